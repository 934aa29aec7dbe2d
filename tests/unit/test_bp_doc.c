/* test_bp_doc.c -- the extraction interface (worker/extract/bp_doc.h) without real files:
 * format names and detection from content, text encodings, heading marks of Markdown and
 * HTML, limits and their messages, and the codec the sandbox's output goes through: a
 * round trip, then every way a hostile buffer is refused. Real PDF/Office/ODF/EPUB files are
 * made and checked by tests/integration/test_docformats.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp_doc.h"

static int extract(const char *in, size_t n, const char *name, const char *type, bp_doc *d,
                   bp_err *err)
{
    memset(err, 0, sizeof(*err));
    return bp_doc_extract_mem(in, n, name, type, NULL, NULL, NULL, d, err);
}

static void test_names_and_detection(void **state)
{
    bp_doc_format f;

    (void)state;
    assert_int_equal(bp_doc_format_parse("PDF", &f), 0);
    assert_int_equal(f, BP_FMT_PDF);
    assert_int_equal(bp_doc_format_parse("exe", &f), -1);
    assert_string_equal(bp_doc_format_name(BP_FMT_XLSX), "xlsx");
    assert_string_equal(bp_doc_page_unit(BP_FMT_PPTX), "slide");
    assert_string_equal(bp_doc_page_unit(BP_FMT_ODS), "sheet");
    assert_int_equal(bp_doc_detect("%PDF-1.7\n", 9), BP_FMT_PDF);
    assert_int_equal(bp_doc_detect("junk\n%PDF-1.4", 14), BP_FMT_PDF);
    assert_int_equal(bp_doc_detect("{\\rtf1 x}", 9), BP_FMT_RTF);
    assert_int_equal(bp_doc_detect("  <!DOCTYPE html><p>x", 21), BP_FMT_HTML);
    assert_int_equal(bp_doc_detect("hello <b>", 9), BP_FMT_TEXT);
    assert_int_equal(bp_doc_detect("PK\3\4not a zip", 14), BP_FMT_UNKNOWN);
}

static void test_encodings(void **state)
{
    bp_doc d;
    bp_err err;
    /* "café" in UTF-16LE with a BOM, UTF-16BE without, windows-1252 with a euro sign */
    static const char le[] = "\xFF\xFE"
                             "c\0a\0f\0\xE9\0";
    static const char be[] = "\0c\0a\0f\0\xE9\0 \0c\0a\0f\0\xE9";
    static const char cp[] = "caf\xE9 \x80 5";

    (void)state;
    assert_int_equal(extract(le, sizeof(le) - 1, NULL, NULL, &d, &err), 0);
    assert_string_equal(d.encoding, "UTF-16LE");
    assert_string_equal(d.text.buf, "caf\xC3\xA9");
    bp_doc_free(&d);
    assert_int_equal(extract(be, sizeof(be) - 1, NULL, NULL, &d, &err), 0);
    assert_string_equal(d.encoding, "UTF-16BE");
    assert_string_equal(d.text.buf, "caf\xC3\xA9 caf\xC3\xA9");
    bp_doc_free(&d);
    assert_int_equal(extract(cp, sizeof(cp) - 1, NULL, NULL, &d, &err), 0);
    assert_string_equal(d.encoding, "windows-1252");
    assert_string_equal(d.text.buf, "caf\xC3\xA9 \xE2\x82\xAC 5");
    bp_doc_free(&d);
    /* a lone surrogate in UTF-16 is refused, saying where */
    static const char bad[] = "\xFF\xFE"
                              "a\0\x00\xD8"
                              "b\0";
    assert_int_equal(extract(bad, sizeof(bad) - 1, "x.txt", NULL, &d, &err), -1);
    assert_non_null(strstr(err.msg, "text of 'x.txt' is not valid UTF-16LE at byte offset"));
}

static void test_heading_marks(void **state)
{
    bp_doc d;
    bp_err err;
    static const char md[] = "# One\n\npara one.\n\nTwo\n---\n\nbody\n";
    static const char html[] = "<h1>Top</h1><p>a</p><h3>Deep <b>x</b></h3><p>b</p>";

    (void)state;
    assert_int_equal(extract(md, sizeof(md) - 1, "a.md", NULL, &d, &err), 0);
    assert_int_equal(d.format, BP_FMT_MARKDOWN);
    assert_string_equal(d.text.buf, "One para one. Two body");
    assert_int_equal(d.n_headings, 2);
    assert_string_equal(d.headings[0].title, "One");
    assert_int_equal(d.headings[0].off, 0);
    assert_string_equal(d.headings[1].title, "Two");
    assert_int_equal(d.headings[1].level, 2); /* setext with '-' */
    assert_int_equal(d.headings[1].off, 14);
    bp_doc_free(&d);
    assert_int_equal(extract(html, sizeof(html) - 1, NULL, "html", &d, &err), 0);
    assert_int_equal(d.n_headings, 2);
    assert_string_equal(d.headings[1].title, "Deep x");
    assert_int_equal(d.headings[1].level, 3);
    assert_int_equal(d.n_pages, 0);
    bp_doc_free(&d);
}

static void test_limits(void **state)
{
    bp_doc d;
    bp_err err;
    bp_doc_limits lim = {.max_output_bytes = 10, .max_input_bytes = 100};
    static const char rtf[] = "{\\rtf1{{{{{{{{{{x}}}}}}}}}}}";

    (void)state;
    assert_int_equal(
        bp_doc_extract_mem("aaaa bbbb cccc dddd", 19, NULL, NULL, &lim, NULL, NULL, &d, &err), -1);
    assert_string_equal(err.msg, "text: extracted text passes 10 bytes, over the limit "
                                 "(handlers.max_text_bytes)");
    assert_null(d.text.buf); /* nothing left to free on failure */
    lim.max_output_bytes = 0;
    assert_int_equal(bp_doc_extract_mem("x", 1, NULL, "pdf", &lim, NULL, NULL, &d, &err), -1);
    assert_non_null(strstr(err.msg, "PDF 'document'"));
    lim.max_depth = 5;
    assert_int_equal(
        bp_doc_extract_mem(rtf, sizeof(rtf) - 1, "deep.rtf", NULL, &lim, NULL, NULL, &d, &err), -1);
    assert_string_equal(err.msg, "RTF 'deep.rtf' nests groups deeper than 5 at byte 10 "
                                 "(handlers.max_xml_depth)");
    /* headings past max_marks are dropped, not refused, so the result still decodes */
    bp_doc_limits marks = {.max_marks = 2};
    char *enc;
    size_t enc_len;
    bp_doc back;
    assert_int_equal(
        bp_doc_extract_mem("# a\n# b\n# c\n# d\n", 16, "h.md", NULL, &marks, NULL, NULL, &d, &err),
        0);
    assert_int_equal(d.n_headings, 2);
    assert_int_equal(bp_doc_encode(&d, &enc, &enc_len), 0);
    assert_int_equal(bp_doc_decode(enc, enc_len, &marks, &back, &err), 0);
    free(enc);
    bp_doc_free(&back);
    bp_doc_free(&d);
    assert_int_equal(extract("x", 1, NULL, "exe", &d, &err), -1);
    assert_non_null(strstr(err.msg, "unknown document type 'exe'"));
}

/* A small document built by hand, encoded. */
static void encoded(char **buf, size_t *len)
{
    bp_doc d;

    memset(&d, 0, sizeof(d));
    assert_int_equal(bp_text_init(&d.text, 16), 0);
    d.format = BP_FMT_PDF;
    assert_int_equal(bp_doc_page_mark(&d), 0);
    bp_text_append(&d.text, "Intro words", 11);
    assert_int_equal(bp_doc_page_mark(&d), 0);
    assert_int_equal(bp_doc_page_empty(&d, 2), 0);
    assert_int_equal(bp_doc_page_mark(&d), 0);
    size_t at = bp_doc_here(&d);
    bp_text_append(&d.text, "Results here", 12);
    assert_int_equal(bp_doc_heading_mark(&d, at, 2, "Results", 7), 0);
    d.title = strdup("T");
    assert_int_equal(bp_doc_encode(&d, buf, len), 0);
    bp_doc_free(&d);
}

static void test_codec(void **state)
{
    bp_doc d;
    bp_err err;
    char *buf;
    size_t len;

    (void)state;
    encoded(&buf, &len);
    assert_int_equal(bp_doc_decode(buf, len, NULL, &d, &err), 0);
    assert_string_equal(d.text.buf, "Intro words Results here");
    assert_int_equal(d.text.words, 4);
    assert_int_equal(d.n_pages, 3);
    assert_int_equal(d.pages[1], 12);
    assert_int_equal(d.pages[2], 12);
    assert_int_equal(d.n_empty, 1);
    assert_int_equal(d.headings[0].off, 12);
    assert_string_equal(d.title, "T");
    assert_null(d.author);
    bp_doc_free(&d);

    /* every truncation is refused */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(bp_doc_decode(buf, n, NULL, &d, &err), -1);
    /* trailing bytes */
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 'x';
    assert_int_equal(bp_doc_decode(longer, len + 1, NULL, &d, &err), -1);
    assert_string_equal(err.msg, "extractor output has 1 trailing bytes");
    free(longer);
    /* text broken: a double space, a control byte, invalid UTF-8 */
    char *t = memmem(buf, len, "Intro words", 11);
    assert_non_null(t);
    static const char *const bad_text[] = {"Intro  ords", "Intro\x01words", "Intro\xFFwords"};
    for (size_t i = 0; i < 3; i++) {
        char save[11];
        memcpy(save, t, 11);
        memcpy(t, bad_text[i], 11);
        assert_int_equal(bp_doc_decode(buf, len, NULL, &d, &err), -1);
        assert_string_equal(err.msg,
                            "extractor output text breaks the invariant (UTF-8, single spaces)");
        memcpy(t, save, 11);
    }
    /* a page mark inside a word, a mark past the end */
    char *page2 = t + 24 + 4 + 8; /* the text, the page count, page 1's offset */
    uint64_t p1;
    memcpy(&p1, page2, sizeof(p1));
    assert_int_equal(p1, 12);
    uint64_t bad_marks[] = {13, 1000};
    for (size_t i = 0; i < 2; i++) {
        memcpy(page2, &bad_marks[i], sizeof(uint64_t));
        assert_int_equal(bp_doc_decode(buf, len, NULL, &d, &err), -1);
        assert_string_equal(err.msg, "extractor output has a bad offset for page 2");
    }
    memcpy(page2, &p1, sizeof(p1));
    /* counts over the limits */
    bp_doc_limits few = {.max_pages = 2};
    assert_int_equal(bp_doc_decode(buf, len, &few, &d, &err), -1);
    assert_string_equal(err.msg, "extractor output has a bad page count");
    bp_doc_limits small = {.max_output_bytes = 5};
    assert_int_equal(bp_doc_decode(buf, len, &small, &d, &err), -1);
    /* the intact buffer still decodes */
    assert_int_equal(bp_doc_decode(buf, len, NULL, &d, &err), 0);
    bp_doc_free(&d);
    free(buf);
    assert_int_equal(bp_doc_decode("BPDOC", 5, NULL, &d, &err), -1);
    assert_string_equal(err.msg, "extractor output does not start with its magic");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_detection),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_heading_marks),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_codec),
    };
    return cmocka_run_group_tests_name("bp_doc", tests, NULL, NULL);
}
