/* fuzz_doc_decode.c -- libFuzzer target for bp_doc_decode(), the worker's reader of what
 * the extractor process (the sandbox) sends back: the one parser on the trusted side of
 * the boundary that reads bytes an attacker may fully control once a parser is exploited.
 *
 * Any input: decode must not crash or leak; what it accepts must satisfy the invariants
 * (checked again here independently) and must encode back to exactly the same bytes, so
 * nothing unchecked can slip through a field the decoder skips. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bp_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bp_doc_limits lim = {.max_output_bytes = 1 << 20, .max_pages = 64, .max_marks = 1000};
    bp_doc d;
    bp_err err;
    char *enc;
    size_t enc_len;

    if (bp_doc_decode((const char *)data, size, &lim, &d, &err) != 0)
        return 0;
    const char *b = d.text.buf;
    if (b[d.text.len] != '\0' || bp_utf8_check((const unsigned char *)b, d.text.len) != d.text.len)
        abort();
    for (size_t i = 0; i < d.n_pages; i++)
        if (d.pages[i] > d.text.len || (i > 0 && d.pages[i] < d.pages[i - 1]) ||
            (d.pages[i] > 0 && d.pages[i] < d.text.len && b[d.pages[i] - 1] != ' '))
            abort();
    for (size_t i = 0; i < d.n_headings; i++)
        if (d.headings[i].off > d.text.len || d.headings[i].level < 1 || d.headings[i].level > 9 ||
            d.headings[i].title == NULL)
            abort();
    if (bp_doc_encode(&d, &enc, &enc_len) != 0)
        abort();
    if (enc_len != size || memcmp(enc, data, size) != 0)
        abort(); /* the form is canonical: what was accepted re-encodes to the same bytes */
    free(enc);
    bp_doc_free(&d);
    return 0;
}
