/* bp_extract.h -- the document handler's pure text work: UTF-8 validation, text extraction
 * (plain text, Markdown, HTML) into one white-space-normalised buffer, and a JSON string
 * encoder that never emits invalid UTF-8.
 *
 * Nothing here touches Redis, the job or the log, so the unit tests and the fuzz target
 * call it directly. The extracted buffer holds words separated by exactly one ASCII space,
 * with no leading or trailing space: the chunker (bp_chunk.h) relies on that. */
#ifndef BP_EXTRACT_H
#define BP_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bp_doc_type {
    BP_DOC_TEXT,     /* plain text: only white space is normalised */
    BP_DOC_MARKDOWN, /* markup dropped, text kept (code too) */
    BP_DOC_HTML,     /* visible text only (libxml2's HTML parser) */
} bp_doc_type;

/* The extracted text: one growable buffer plus the running word count. */
typedef struct bp_text {
    char *buf;          /* words separated by one ' '; NUL-terminated; malloc'd */
    size_t len;         /* bytes in buf, without the NUL */
    size_t cap;         /* bytes allocated */
    size_t words;       /* white-space separated tokens appended so far */
    bool pending_space; /* white space seen since the last word byte */
    bool oom;           /* an allocation failed: the text is incomplete */
    /* Optional: told, every BP_TEXT_RELEASE_BYTES or so, that the input before upto will not
     * be read again (the document handler drops those pages of its file mapping). */
    void (*release)(void *arg, const char *upto);
    void *release_arg; /* passed to release */
    /* Optional: told that a heading of level (1..6) was just appended, its words running
     * from offset start to len (start > len when it had none). */
    void (*heading)(void *arg, int level, size_t start);
    void *heading_arg; /* passed to heading */
    size_t limit;      /* when > 0, the most bytes buf may hold: beyond, oom and over set */
    bool over;         /* the limit was hit (oom is set too, so extractors stop) */
} bp_text;

#define BP_TEXT_RELEASE_BYTES (4 << 20) /* input consumed between two release calls */

/* Offset of the first byte of s that is not part of a well-formed UTF-8 sequence (no
 * overlongs, no surrogates, nothing above U+10FFFF), or n when all of s is valid. */
size_t bp_utf8_check(const unsigned char *s, size_t n);

/* "text", "markdown", "html" -> type. Returns 0, or -1 when the name is unknown. */
int bp_doc_type_parse(const char *name, bp_doc_type *out);

/* The type a file name's extension implies: .md/.markdown, .html/.htm, else text. */
bp_doc_type bp_doc_type_from_path(const char *path);

/* Prepare an empty text with room for about hint bytes. Returns 0, or -1 out of memory. */
int bp_text_init(bp_text *t, size_t hint);
void bp_text_free(bp_text *t); /* frees buf; safe on a zeroed bp_text */

/* Append UTF-8 bytes, turning every run of white space (ASCII, the Unicode spaces, NBSP,
 * BOM, control characters) into a single separator. in must be valid UTF-8. */
void bp_text_append(bp_text *t, const char *in, size_t n);

/* Mark a word boundary (a block element ended, a table cell, a line break). */
void bp_text_break(bp_text *t);

/* Extract the text of in (valid UTF-8, n bytes) as type into t (initialised by the call).
 * Returns 0, or -1 when memory ran out (t is then freed). */
int bp_extract(bp_doc_type type, const char *in, size_t n, bp_text *t);

/* bp_extract() that calls release(arg, upto) as the input is consumed (release may be
 * NULL). */
int bp_extract_release(bp_doc_type type, const char *in, size_t n, bp_text *t,
                       void (*release)(void *arg, const char *upto), void *arg);

/* bp_extract_release() into a t the caller initialised (bp_text_init) and hooked. Returns
 * 0, or -1 when memory ran out or t->limit was hit (t is left for the caller to free). */
int bp_extract_into(bp_doc_type type, const char *in, size_t n, bp_text *t);

/* The offset where the next word appended to t will start. */
size_t bp_text_here(const bp_text *t);

/* Internal entry points of bp_extract(), appending to an initialised t. */
void bp_extract_markdown(const char *in, size_t n, bp_text *t);
int bp_extract_html(const char *in, size_t n, bp_text *t);

/* Encode n bytes as a JSON string literal (quotes included) into a malloc'd buffer;
 * invalid UTF-8 becomes U+FFFD. Returns NULL out of memory; *out_len gets the length. */
char *bp_json_quote(const char *s, size_t n, size_t *out_len);

#endif /* BP_EXTRACT_H */
