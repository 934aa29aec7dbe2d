/* bp_sandbox_extract.h -- the document extraction as the sandbox runs it: the function table
 * the extractor process serves (bp_sandbox_server_main), the request argument, and the
 * decoding of what a child sent back.
 *
 * The child runs bp_doc_extract() (worker/extract/bp_doc.h) on the fd it was handed and
 * writes bp_doc_encode()'s bytes to the result pipe; the worker rebuilds the bp_doc with
 * bp_doc_decode(), which checks everything, because those bytes come from a process that
 * parsed a stranger's file. */
#ifndef BP_SANDBOX_EXTRACT_H
#define BP_SANDBOX_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "bp_doc.h"
#include "bp_sandbox.h"

#define BP_SANDBOX_FN_EXTRACT 0 /* index of the extraction in bp_sandbox_extract_fns */

extern const bp_sandbox_fn_entry bp_sandbox_extract_fns[]; /* what bullpen's extractor runs */
extern const size_t bp_sandbox_extract_n_fns;

/* A worker runs two extractors, each started at its first document: one for PDFs, which
 * loads poppler-glib and its 40 libraries, one for every other format, which does not.
 * Every document's child is forked from its extractor, and a fork costs with what the
 * extractor has mapped: the other formats do not pay for poppler, a worker that sees no
 * PDF never maps it. No profile (NULL: tools and tests with one extractor) serves all. */
#define BP_SANDBOX_PROFILE_PDF   "pdf"   /* PDFs: poppler-glib loaded and warmed */
#define BP_SANDBOX_PROFILE_OTHER "other" /* every other format: no poppler-glib */

/* Warm-up of the parsers a profile serves, in the extractor, before it confines itself. */
void bp_sandbox_extract_init(const char *profile);

/* Whether a document goes to the PDF extractor: its job's "type" when it has one (NULL or
 * "" = none), else its first bytes (head, n: at least BP_DOC_PDF_HEAD of them when the
 * document is that long) by the rule the child detects with. */
bool bp_sandbox_extract_wants_pdf(const char *type, const char *head, size_t n);

/* What an extraction request carries: the limits, the job's "type" ("" = detect) and the
 * file's name (for messages and the Markdown extension only; "" for a text job). */
typedef struct bp_sandbox_extract_arg {
    bp_doc_limits lim; /* the handler's limits for hostile files */
    char type[16];     /* format name, NUL-terminated, "" = detect from the content */
    char name[512];    /* NUL-terminated, may be cut short */
} bp_sandbox_extract_arg;

/* Fill a request argument. type and name may be NULL. */
void bp_sandbox_extract_arg_set(bp_sandbox_extract_arg *a, const bp_doc_limits *lim,
                                const char *type, const char *name);

#endif /* BP_SANDBOX_EXTRACT_H */
