/* bp_doc_int.h -- what the format extractors of worker/extract/ share and nothing outside
 * uses: the source being extracted, the per-family entry points, the zip container reader
 * and the hardened XML reader. */
#ifndef BP_DOC_INT_H
#define BP_DOC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/xmlreader.h>

#include "bp_doc.h"

/* One extraction in progress. */
typedef struct bp_doc_src {
    const char *in;              /* the file's bytes */
    size_t n;                    /* bytes in in */
    const char *name;            /* file name for messages, never NULL ("document") */
    bp_doc_limits lim;           /* resolved limits */
    bp_doc_progress_fn progress; /* may be NULL */
    void *arg;                   /* passed to progress */
    /* Optional: told that the input before upto will not be read again (bp_doc_extract()
     * drops those pages of its mapping, so a 50 MB text file costs its text, not twice). */
    void (*release)(void *arg, const char *upto);
    void *release_arg; /* passed to release */
} bp_doc_src;

/* Each family fills d (text already initialised, format set) or returns -1 with err set.
 * A limit hit in d->text (text.over) is worded by the caller. */
int bp_doc_text_extract(const bp_doc_src *src, bp_doc *d, bp_err *err);  /* text, md, html */
int bp_doc_pdf_extract(const bp_doc_src *src, bp_doc *d, bp_err *err);   /* PDF */
int bp_doc_ooxml_extract(const bp_doc_src *src, bp_doc *d, bp_err *err); /* DOCX PPTX XLSX */
int bp_doc_odf_extract(const bp_doc_src *src, bp_doc *d, bp_err *err);   /* ODT ODP ODS */
int bp_doc_epub_extract(const bp_doc_src *src, bp_doc *d, bp_err *err);  /* EPUB */
int bp_doc_rtf_extract(const bp_doc_src *src, bp_doc *d, bp_err *err);   /* RTF */

/* The zip format a container holds by its mimetype entry or [Content_Types].xml, or
 * BP_FMT_UNKNOWN. */
bp_doc_format bp_doc_zip_detect(const char *in, size_t n);

/* Tell the progress callback about page done of total (no-op without one). */
void bp_doc_progress(const bp_doc_src *src, unsigned done, unsigned total);

/* Start a new page, refusing with err when it would pass lim.max_pages. */
int bp_doc_new_page(const bp_doc_src *src, bp_doc *d, bp_err *err);

/* Set *dst to a malloc'd, white-space-normalised copy of n bytes of UTF-8 (invalid bytes
 * dropped), at most 1,000 bytes; an empty result leaves *dst NULL. Returns -1 out of memory. */
int bp_doc_set_string(char **dst, const char *s, size_t n);

/* ---- zip containers (bp_zip.c) ---- */

typedef struct bp_zip bp_zip; /* opaque */

/* Open the zip in src->in, refusing more than lim.max_zip_entries entries. */
int bp_zip_open(bp_zip **out, const bp_doc_src *src, bp_doc_format fmt, bp_err *err);
void bp_zip_close(bp_zip *z);

/* Whether the container has an entry of that name. */
bool bp_zip_has(bp_zip *z, const char *name);

/* Read a whole entry (at most max bytes; entries bigger are refused) into a malloc'd,
 * NUL-terminated buffer. Ratio, total-bytes and declared-size checks apply. Returns 0,
 * 1 when the entry does not exist (nothing set), -1 with err set. */
int bp_zip_read(bp_zip *z, const char *name, size_t max, char **buf, size_t *len, bp_err *err);

/* A hardened streaming XML reader over an entry: no network, no DTD loading, no entity
 * substitution, a document with an entity declaration refused outright (billion laughs),
 * the zip limits applied to the bytes as they are inflated. Returns 0 with *out, 1 when
 * the entry does not exist, -1 with err set. Free with bp_xml_close(). */
typedef struct bp_xml bp_xml;
int bp_xml_open(bp_xml **out, bp_zip *z, const char *name, bp_err *err);

/* The next node (xmlTextReaderRead), checking the nesting limit. Returns 1 with a node,
 * 0 at the end, -1 with err set (malformed XML, a limit). */
int bp_xml_next(bp_xml *x, bp_err *err);
xmlTextReaderPtr bp_xml_reader(bp_xml *x); /* for the node accessors */
void bp_xml_close(bp_xml *x);

/* Node helpers on the current node. */
bool bp_xml_is(bp_xml *x, int type, const char *local); /* type 1 start, 15 end */
char *bp_xml_attr(bp_xml *x, const char *local);        /* malloc'd value of any-ns attr */
/* r:id, the relationship id (transitional or strict namespace), malloc'd or NULL. */
char *bp_xml_attr_rel_id(bp_xml *x);

/* Resolve a relative target against the directory of base ("word/document.xml" +
 * "media/x.png" -> "word/media/x.png"), handling "../" and a leading "/". malloc'd. */
char *bp_zip_resolve(const char *base, const char *target);

#endif /* BP_DOC_INT_H */
