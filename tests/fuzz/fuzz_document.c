/* fuzz_document.c -- libFuzzer target for the document handler's pure part: UTF-8
 * validation, extraction (text, Markdown, HTML) and chunking, plus the JSON quoting.
 *
 * Input layout: byte 0 picks the type (mod 3), bytes 1-2 the chunk budget and overlap, the
 * rest is the document. Beyond "no crash, no sanitizer report" it checks the invariants the
 * handler relies on: the extracted text is valid UTF-8, has single spaces between words and
 * none at either end, its word count matches, and the chunks cover it in order with each
 * chunk within budget. The whole input is also read as job data by the document's JSON
 * scanner and by jansson, which must agree. Build and run with tests/fuzz/run.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bp_chunk.h"
#include "bp_docdata.h"
#include "bp_extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t words_in(const char *s, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
            w++;
    return w;
}

static void check_chunks(const bp_text *t, int budget, int overlap)
{
    bp_chunker c;
    size_t off, len, prev_end = 0, n = 0;

    if (bp_chunker_init(&c, t->buf, t->len, budget, overlap) != 0)
        return;
    while (bp_chunker_next(&c, &off, &len)) {
        if (len == 0 || off + len > t->len || (n > 0 && off > prev_end + 1))
            abort(); /* empty, out of range, or a gap after the previous chunk */
        if (n == 0 && off != 0)
            abort();
        if (off + len <= prev_end && n > 0)
            abort(); /* no progress */
        /* a CJK sentence end can split a token, so count units loosely: at most the
         * budget in space-separated words */
        if (words_in(t->buf + off, len) > (size_t)budget)
            abort();
        prev_end = off + len;
        n++;
    }
    if (t->len > 0 && prev_end != t->len)
        abort(); /* the end was not covered */
    bp_chunker_fini(&c);
}

/* The job data scanner against jansson: whatever jansson reads as an object, the scanner
 * must read too, with the same strings for path, text and type. */
static void check_docdata(const char *s, size_t n)
{
    bp_docdata d;
    json_t *j = json_loadb(s, n, JSON_ALLOW_NUL, NULL);
    int rc = bp_docdata_scan(s, n, &d);
    static const char *const keys[] = {"path", "text", "type"};

    if (rc < 0) {
        json_decref(j);
        return;
    }
    /* jansson reads a raw NUL byte right after a number as part of it ({"a": 5<NUL>} is an
     * object to it); JSON has none outside \u0000, and the scanner refuses it: jansson's
     * verdict does not count for such input */
    if (json_is_object(j) && memchr(s, '\0', n) == NULL) {
        if (rc != 1)
            abort();
        const bp_docdata_field *f[] = {&d.path, &d.text, &d.type};
        for (int k = 0; k < 3; k++) {
            json_t *v = json_object_get(j, keys[k]);
            if (v == NULL ? f[k]->kind != BP_DOCDATA_ABSENT
                : json_is_string(v)
                    ? f[k]->kind != BP_DOCDATA_STRING || f[k]->len != json_string_length(v) ||
                          memcmp(f[k]->value, json_string_value(v), f[k]->len) != 0
                    : f[k]->kind != BP_DOCDATA_OTHER)
                abort();
        }
    }
    if (rc == 1)
        bp_docdata_free(&d);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bp_doc_type type;
    int budget, overlap;
    const char *doc;
    size_t n, qlen;
    bp_text t;
    char *q;

    check_docdata((const char *)data, size);
    if (size < 3)
        return 0;
    type = (bp_doc_type)(data[0] % 3);
    budget = 1 + data[1] % 64;
    overlap = data[2] % 64;
    doc = (const char *)data + 3;
    n = size - 3;

    q = bp_json_quote(doc, n, &qlen); /* any bytes */
    if (q != NULL) {
        if (bp_utf8_check((const unsigned char *)q, qlen) != qlen)
            abort();
        free(q);
    }
    if (bp_utf8_check((const unsigned char *)doc, n) != n)
        return 0; /* the handler refuses it before extraction */
    if (bp_extract(type, doc, n, &t) != 0)
        return 0;
    if (bp_utf8_check((const unsigned char *)t.buf, t.len) != t.len)
        abort();
    if (t.len > 0 && (t.buf[0] == ' ' || t.buf[t.len - 1] == ' ' || strstr(t.buf, "  ")))
        abort();
    if (memchr(t.buf, '\0', t.len) != NULL || t.buf[t.len] != '\0')
        abort();
    if (words_in(t.buf, t.len) != t.words)
        abort();
    check_chunks(&t, budget, overlap);
    bp_text_free(&t);
    return 0;
}
