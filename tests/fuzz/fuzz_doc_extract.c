/* fuzz_doc_extract.c -- libFuzzer target for bp_doc_extract_mem(): format detection and
 * every extractor (PDF through poppler, OOXML, ODF, EPUB through libzip and libxml2, RTF,
 * text encodings), under small limits so a slow input is a finding, not a hang.
 *
 * Input layout: byte 0 picks the type (0 = detect from content, k = the k-th format name),
 * the rest is the file. Beyond "no crash, no sanitizer report" it checks that whatever an
 * extractor returns passes bp_doc_decode()'s validation after bp_doc_encode() (UTF-8,
 * single spaces, marks at word starts and in order, counts within the limits): the worker
 * relies on exactly that when the bytes come back from the sandbox. Seeds are made at run
 * time by tests/fuzz/run_docs.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const types[] = {NULL,   "text", "markdown", "html", "pdf",  "docx", "pptx",
                                    "xlsx", "odt",  "odp",      "ods",  "epub", "rtf"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bp_doc_limits lim = {.max_output_bytes = 1 << 20,
                         .max_pages = 64,
                         .max_zip_entries = 256,
                         .max_zip_bytes = 8 << 20,
                         .max_depth = 64,
                         .max_marks = 1000};
    bp_doc doc, back;
    bp_err err;
    char *enc;
    size_t enc_len;

    if (size < 1)
        return 0;
    const char *type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    if (bp_doc_extract_mem((const char *)data + 1, size - 1, "fuzz", type, &lim, NULL, NULL, &doc,
                           &err) != 0) {
        if (err.msg[0] == '\0')
            abort(); /* every refusal says why */
        return 0;
    }
    if (bp_doc_encode(&doc, &enc, &enc_len) != 0)
        abort();
    if (bp_doc_decode(enc, enc_len, &lim, &back, &err) != 0)
        abort(); /* an extractor produced something the worker would reject */
    if (back.text.len != doc.text.len || memcmp(back.text.buf, doc.text.buf, doc.text.len) != 0 ||
        back.text.words != doc.text.words || back.n_pages != doc.n_pages ||
        back.n_headings != doc.n_headings)
        abort();
    free(enc);
    bp_doc_free(&back);
    bp_doc_free(&doc);
    return 0;
}
