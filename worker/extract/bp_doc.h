/* bp_doc.h -- one document's extracted text with its page and heading marks: the interface
 * between the format extractors (worker/extract/), the sandbox that runs them and the
 * document handler that chunks and stores the result.
 *
 * bytes in (a file descriptor or a buffer), a bp_doc out, a reason on failure. Pure: no
 * Redis, no logging, no job, no global state, so it runs unchanged inside a confined
 * extractor process, in the unit tests and in the fuzzers.
 *
 * The text follows bp_text's invariant (bp_extract.h): words separated by exactly one ASCII
 * space, no leading or trailing space, valid UTF-8, NUL-terminated; the chunker relies on it.
 * Every mark is a byte offset into that text where a word starts (0, a byte after a ' ',
 * or text.len for a mark after the last word).
 *
 * Between the sandbox and the worker a bp_doc travels serialised (bp_doc_encode/decode).
 * The bytes come from a process that parsed a stranger's file, so bp_doc_decode() trusts
 * nothing: every length, count, offset and string is checked before it is used. */
#ifndef BP_DOC_H
#define BP_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bp_err.h"
#include "bp_extract.h"

/* The format families we extract. The names (bp_doc_format_name) are what a job's "type"
 * says and what the result reports. */
typedef enum bp_doc_format {
    BP_FMT_UNKNOWN = 0, /* detection found nothing we read */
    BP_FMT_TEXT,        /* plain text in any supported encoding */
    BP_FMT_MARKDOWN,    /* Markdown (UTF-8 after conversion) */
    BP_FMT_HTML,        /* HTML */
    BP_FMT_PDF,         /* PDF, text layer through poppler */
    BP_FMT_DOCX,        /* Office Open XML word processing */
    BP_FMT_PPTX,        /* Office Open XML presentation: a page is a slide */
    BP_FMT_XLSX,        /* Office Open XML spreadsheet: a page is a sheet */
    BP_FMT_ODT,         /* OpenDocument text */
    BP_FMT_ODP,         /* OpenDocument presentation: a page is a slide */
    BP_FMT_ODS,         /* OpenDocument spreadsheet: a page is a sheet */
    BP_FMT_EPUB,        /* EPUB: a page is a spine item (chapter file) */
    BP_FMT_RTF,         /* Rich Text Format */
    BP_FMT_COUNT_,      /* number of formats, not a format */
} bp_doc_format;

/* Limits against hostile files. A zero field means "use the default" (BP_DOC_DEFAULT_*), so
 * a zeroed struct is safe. Every refusal names the limit (and the config key) it hit. */
typedef struct bp_doc_limits {
    uint64_t max_input_bytes;  /* size of the file itself (handlers.max_bytes) */
    uint64_t max_output_bytes; /* extracted text (handlers.max_text_bytes) */
    uint32_t max_pages;        /* pages/slides/sheets/chapters (handlers.max_pages) */
    uint32_t max_zip_entries;  /* entries in a zip container (handlers.max_zip_entries) */
    uint32_t max_zip_ratio;    /* uncompressed:compressed of any entry (handlers.max_zip_ratio) */
    uint64_t max_zip_bytes;    /* uncompressed bytes read from one container, all entries */
    uint32_t max_depth;        /* XML element nesting (handlers.max_xml_depth) */
    uint32_t max_marks;        /* heading marks kept (more are dropped, not refused) */
} bp_doc_limits;

#define BP_DOC_DEFAULT_MAX_INPUT   (64ull << 20)  /* same as handlers.max_bytes' default */
#define BP_DOC_DEFAULT_MAX_OUTPUT  (256ull << 20) /* a 64 MB file rarely yields 4x in text */
#define BP_DOC_DEFAULT_MAX_PAGES   20000          /* far above real uploads, bounds the marks */
#define BP_DOC_DEFAULT_ZIP_ENTRIES 10000          /* an EPUB of many chapters has ~1,000 */
#define BP_DOC_DEFAULT_ZIP_RATIO   200            /* XML deflates ~10-30:1; bombs 1000:1+ */
#define BP_DOC_DEFAULT_ZIP_BYTES   (1ull << 30)   /* 1 GiB decompressed per container */
#define BP_DOC_DEFAULT_DEPTH       256            /* libxml2's own default cap is 256 */
#define BP_DOC_DEFAULT_MARKS       100000         /* headings kept for chunk paths */

/* A heading: where its section starts in the text, its level and its title. */
typedef struct bp_doc_heading {
    size_t off;    /* offset in text.buf where the heading's own words start */
    uint8_t level; /* 1 (top) .. 9 */
    char *title;   /* UTF-8, NUL-terminated, single-spaced; malloc'd */
} bp_doc_heading;

/* An extracted document. Zero it before use; free with bp_doc_free(). */
typedef struct bp_doc {
    bp_text text;             /* the words (bp_extract.h); text.words counts them */
    bp_doc_format format;     /* what was extracted (detected or overridden) */
    char encoding[32];        /* source text encoding found: "UTF-8", "UTF-16LE",
                                 "windows-1252", ...; "" for binary formats */
    char *title;              /* document title from its metadata, NULL when none */
    char *author;             /* document author from its metadata, NULL when none */
    size_t *pages;            /* pages[i]: offset where page i+1 starts (non-decreasing) */
    size_t n_pages;           /* pages, slides or sheets; 0 for unpaged formats */
    uint32_t *empty_pages;    /* 1-based numbers of pages without a text layer (scans) */
    size_t n_empty;           /* entries in empty_pages (ascending) */
    bp_doc_heading *headings; /* in text order (offsets non-decreasing) */
    size_t n_headings;        /* entries in headings */
    size_t cap_pages_;        /* allocation bookkeeping, not part of the value */
    size_t cap_empty_;        /* allocation bookkeeping */
    size_t cap_headings_;     /* allocation bookkeeping */
    size_t max_headings_;     /* headings kept at most (lim.max_marks), 0 = the default */
} bp_doc;

/* Progress callback: done out of total units; the unit is pages for paged formats and KiB
 * of input otherwise; total is 0 when the format does not say in advance (DOCX page
 * breaks, ODF slides and sheets are counted as they come). Called from the extracting
 * thread, at most about once per page. */
typedef void (*bp_doc_progress_fn)(void *arg, unsigned done, unsigned total);

/* Extract the regular file open on fd (read-only; not closed, offset not used).
 * The format comes from the content (magic bytes; a zip's mimetype or
 * [Content_Types].xml); type_override ("pdf", "docx", "text", "markdown", ..., or NULL)
 * wins over it. name is the file's name for messages and, only to tell Markdown from plain
 * text (which no content check can), its extension; NULL is fine. lim may be NULL (all
 * defaults); progress may be NULL.
 * Returns 0 with *out filled (caller frees with bp_doc_free()); -1 with err->msg saying
 * what and why, e.g. "PDF: 25001 pages, over the limit of 20000 (handlers.max_pages)";
 * out is then left zeroed. */
int bp_doc_extract(int fd, const char *name, const char *type_override, const bp_doc_limits *lim,
                   bp_doc_progress_fn progress, void *arg, bp_doc *out, bp_err *err);

/* bp_doc_extract() on n bytes in memory (a {"text": ...} job, tests, fuzzers). */
int bp_doc_extract_mem(const char *in, size_t n, const char *name, const char *type_override,
                       const bp_doc_limits *lim, bp_doc_progress_fn progress, void *arg,
                       bp_doc *out, bp_err *err);

/* The format the content of in (n bytes) shows, without extracting. Text formats come back
 * as BP_FMT_TEXT or BP_FMT_HTML (Markdown needs the name's extension). */
bp_doc_format bp_doc_detect(const char *in, size_t n);

/* Whether bp_doc_detect() calls in PDF: "%PDF-" within its first BP_DOC_PDF_HEAD bytes, which
 * is all it looks at (the worker routes a document to its PDF extractor with this). */
#define BP_DOC_PDF_HEAD 1024
bool bp_doc_is_pdf(const char *in, size_t n);

/* "pdf" -> BP_FMT_PDF etc. Returns 0, or -1 when the name is unknown. */
int bp_doc_format_parse(const char *name, bp_doc_format *out);
const char *bp_doc_format_name(bp_doc_format f);  /* "pdf", "docx", ... ("unknown") */
const char *bp_doc_format_label(bp_doc_format f); /* "PDF", "DOCX", ... for messages */
const char *bp_doc_page_unit(bp_doc_format f);    /* "page", "slide", "sheet", "chapter" */

/* Serialise d into one malloc'd buffer (*buf, *len; caller frees). Returns 0, or -1 out of
 * memory. The form is private to this module and versioned by a magic prefix. */
int bp_doc_encode(const bp_doc *d, char **buf, size_t *len);

/* Rebuild a bp_doc from len bytes made by bp_doc_encode() in another process. Checks
 * everything (magic, lengths, counts against lim, UTF-8 and single spacing of the text,
 * offsets inside the text at word starts, ordering, heading levels, strings) so hostile
 * bytes cannot make the worker read out of bounds or store garbage. Returns 0 with *out
 * filled, or -1 with err saying what was wrong (out left zeroed). */
int bp_doc_decode(const char *buf, size_t len, const bp_doc_limits *lim, bp_doc *out, bp_err *err);

void bp_doc_free(bp_doc *d); /* frees every member and zeroes d; NULL is a no-op */

/* Helpers for extractors (and tests) building a bp_doc. bp_doc_here() is the offset where
 * the next appended word will start (marks taken there and left past the last word are
 * clamped to text.len when the extraction ends). The others return 0, or -1 out of memory
 * (text.oom is then set too). */
size_t bp_doc_here(const bp_doc *d);
int bp_doc_page_mark(bp_doc *d);                    /* a page starts at bp_doc_here() */
int bp_doc_page_empty(bp_doc *d, uint32_t page_no); /* page page_no has no text layer */
/* A heading of level (clamped to 1..9) whose words start at off (taken with bp_doc_here()
 * before they were appended); title is n bytes of UTF-8, white space is normalised. */
int bp_doc_heading_mark(bp_doc *d, size_t off, int level, const char *title, size_t n);

/* The effective limits: lim's non-zero fields, defaults for the rest. */
bp_doc_limits bp_doc_limits_resolve(const bp_doc_limits *lim);

#endif /* BP_DOC_H */
