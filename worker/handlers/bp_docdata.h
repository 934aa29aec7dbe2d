/* bp_docdata.h -- reading a document job's data ({"path"} or {"text"}, optional "type")
 * without a general JSON parser.
 *
 * jansson decodes about 45 MB/s, which made parsing the job data most of the cost of a 100 KB
 * {"text": ...} job. This scanner handles exactly what the document handler needs: one
 * top-level object, the string values of "path", "text" and "type" decoded (escapes,
 * surrogate pairs, \u0000), every other value skipped. Anything malformed makes it give up
 * so the caller falls back to jansson, whose error messages are the ones users see. */
#ifndef BP_DOCDATA_H
#define BP_DOCDATA_H

#include <stddef.h>

typedef enum bp_docdata_kind {
    BP_DOCDATA_ABSENT, /* the key is not in the object */
    BP_DOCDATA_STRING, /* a string: value/len hold it decoded */
    BP_DOCDATA_OTHER,  /* present with another type (number, object, ...) */
} bp_docdata_kind;

typedef struct bp_docdata_field {
    bp_docdata_kind kind; /* what the key holds */
    char *value;          /* decoded string, malloc'd, NUL-terminated (STRING only) */
    size_t len;           /* bytes in value (may contain NULs) */
} bp_docdata_field;

typedef struct bp_docdata {
    bp_docdata_field path; /* "path" */
    bp_docdata_field text; /* "text" */
    bp_docdata_field type; /* "type" */
} bp_docdata;

/* Scan n bytes of JSON. Returns 1 with out filled (free with bp_docdata_free()), 0 when the
 * input is not a well-formed JSON object (out is left empty: use a full parser for the
 * message), -1 out of memory. The last of duplicate keys wins, as in jansson. */
int bp_docdata_scan(const char *s, size_t n, bp_docdata *out);
void bp_docdata_free(bp_docdata *d);

#endif /* BP_DOCDATA_H */
