/* bp_sandbox_extract.h -- the document extraction as the sandbox runs it: the function table
 * the extractor process serves (bp_sandbox_server_main), and the decoding of what a child
 * sent back, which the worker does not trust.
 *
 * Today the extraction is the in-process extractor of bp_extract.h (text, Markdown, HTML);
 * its output crosses the pipe as "BPX1", the word count (u64) and the text. */
#ifndef BP_SANDBOX_EXTRACT_H
#define BP_SANDBOX_EXTRACT_H

#include <stddef.h>

#include "bp_extract.h"
#include "bp_sandbox.h"

#define BP_SANDBOX_FN_EXTRACT 0 /* index of the extraction in bp_sandbox_extract_fns */

extern const bp_sandbox_fn_entry bp_sandbox_extract_fns[]; /* what bullpen's extractor runs */
extern const size_t bp_sandbox_extract_n_fns;

/* Warm-up of the parsers in the extractor, before it confines itself. */
void bp_sandbox_extract_init(void);

/* The argument of an extraction request for type: its name, NUL-terminated. */
const char *bp_sandbox_extract_arg(bp_doc_type type, size_t *len);

/* Decode a child's output into t (initialised by the call): the header is checked and the
 * text is normalised again (valid UTF-8, words separated by one space), so a hostile child
 * cannot hand the chunker anything it would not have produced itself. Returns 0, or -1 with
 * why in err_text (cap bytes). */
int bp_sandbox_extract_decode(const char *buf, size_t n, bp_text *t, char *err_text, size_t cap);

#endif /* BP_SANDBOX_EXTRACT_H */
