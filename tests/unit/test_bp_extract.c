/* test_bp_extract.c -- text extraction for the document handler (bp_extract.h): white-space
 * normalisation, UTF-8 validation, HTML (libxml2, SAX) and Markdown, the JSON quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp_extract.h"

/* Extract s as type and compare the text and the word count. */
static void check(bp_doc_type type, const char *in, const char *want, size_t want_words)
{
    bp_text t;

    assert_int_equal(bp_extract(type, in, strlen(in), &t), 0);
    assert_string_equal(t.buf, want);
    assert_int_equal(t.len, strlen(want));
    assert_int_equal(t.words, want_words);
    bp_text_free(&t);
}

static void test_text_whitespace(void **state)
{
    (void)state;
    check(BP_DOC_TEXT, "", "", 0);
    check(BP_DOC_TEXT, "   \t\n ", "", 0);
    check(BP_DOC_TEXT, "one", "one", 1);
    check(BP_DOC_TEXT, "  hello \t\r\n  world  ", "hello world", 2);
    /* NBSP, ideographic space, BOM, a control character, U+2003 em space */
    check(BP_DOC_TEXT,
          "\xEF\xBB\xBF"
          "a\xC2\xA0"
          "b\xE3\x80\x80"
          "c\x01"
          "d\xE2\x80\x83"
          "e",
          "a b c d e", 5);
    /* CJK and emoji are word bytes */
    check(BP_DOC_TEXT, "中文 😀 x", "中文 😀 x", 3);
}

static void test_utf8_check(void **state)
{
    (void)state;
    const char *ok = "plain ascii, é, 中, 😀, and a long run of ascii to use the fast path";
    assert_int_equal(bp_utf8_check((const unsigned char *)ok, strlen(ok)), strlen(ok));
    assert_int_equal(bp_utf8_check((const unsigned char *)"abc\xFF", 4), 3);
    assert_int_equal(bp_utf8_check((const unsigned char *)"\xC0\x80", 2), 0);       /* overlong */
    assert_int_equal(bp_utf8_check((const unsigned char *)"ab\xED\xA0\x80", 5), 2); /* surrogate */
    assert_int_equal(bp_utf8_check((const unsigned char *)"abcdefgh\xE4\xB8", 10), 8); /* cut */
    assert_int_equal(bp_utf8_check((const unsigned char *)"\xF4\x90\x80\x80", 4), 0);  /* >10FFFF */
    assert_int_equal(bp_utf8_check((const unsigned char *)"0123456789\x80", 11), 10);
    assert_int_equal(bp_utf8_check((const unsigned char *)"", 0), 0);
}

static void test_doc_type(void **state)
{
    bp_doc_type t;

    (void)state;
    assert_int_equal(bp_doc_type_from_path("/a/b.md"), BP_DOC_MARKDOWN);
    assert_int_equal(bp_doc_type_from_path("/a/b.MARKDOWN"), BP_DOC_MARKDOWN);
    assert_int_equal(bp_doc_type_from_path("/a/b.htm"), BP_DOC_HTML);
    assert_int_equal(bp_doc_type_from_path("/a/b.html"), BP_DOC_HTML);
    assert_int_equal(bp_doc_type_from_path("/a.md/b"), BP_DOC_TEXT);
    assert_int_equal(bp_doc_type_from_path("/a/b.txt"), BP_DOC_TEXT);
    assert_int_equal(bp_doc_type_parse("html", &t), 0);
    assert_int_equal(t, BP_DOC_HTML);
    assert_int_equal(bp_doc_type_parse("pdf", &t), -1);
}

static void test_html_basic(void **state)
{
    (void)state;
    check(BP_DOC_HTML,
          "<html><head><title>T</title><style>p{color:red}</style></head>"
          "<body><p>Hello <b>wor</b>ld</p><p>again</p></body></html>",
          "Hello world again", 3);
    check(BP_DOC_HTML, "", "", 0);
    check(BP_DOC_HTML, "just text", "just text", 2);
}

static void test_html_dropped(void **state)
{
    (void)state;
    check(BP_DOC_HTML,
          "<body>a<script>var x = '<p>no</p>';</script>b<noscript>no</noscript>"
          "<template><p>no</p></template>c<!-- comment --></body>",
          "abc", 1);
    /* an unclosed script swallows the rest, as browsers do */
    check(BP_DOC_HTML, "<p>kept</p><script>if (a < b) { never", "kept", 1);
}

static void test_html_entities(void **state)
{
    (void)state;
    check(BP_DOC_HTML, "<p>fish &amp; chips &lt;p&gt; caf&eacute; &#x4E2D;&#25991; a&nbsp;b</p>",
          "fish & chips <p> café 中文 a b", 8);
}

static void test_html_broken_nested(void **state)
{
    (void)state;
    check(BP_DOC_HTML,
          "<div><p>one<div>two</span> three<ul><li>four<li>five</ul><table><tr>"
          "<td>six<td>seven</table><br>eight",
          "one two three four five six seven eight", 8);
    check(BP_DOC_HTML, "<<<>>><p <p>x</", "<<< >>> x", 3); /* recovered as text */
}

static void test_html_meta_charset_ignored(void **state)
{
    (void)state;
    /* the bytes are UTF-8 (validated before): a meta charset must not reinterpret them */
    check(BP_DOC_HTML,
          "<html><head><meta charset=\"iso-8859-1\"></head><body>café 中文 😀</body></html>",
          "café 中文 😀", 3);
}

static void test_html_large(void **state)
{
    /* > 64 KB so the parser is fed in several slices, with multi-byte text on the seams */
    const char *para = "<p>été 中文 😀 word</p>\n";
    size_t pl = strlen(para), n = 20000;
    char *in = malloc(pl * n + 1);
    bp_text t;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        memcpy(in + i * pl, para, pl);
    in[pl * n] = '\0';
    assert_int_equal(bp_extract(BP_DOC_HTML, in, pl * n, &t), 0);
    assert_int_equal(t.words, 4 * n);
    assert_int_equal(bp_utf8_check((const unsigned char *)t.buf, t.len), t.len);
    assert_memory_equal(t.buf, "été 中文 😀 word été", strlen("été 中文 😀 word été"));
    bp_text_free(&t);
    free(in);
}

static void test_markdown_blocks(void **state)
{
    (void)state;
    check(BP_DOC_MARKDOWN, "# Title #\n\nSome *emphasis* and **strong** and ~~gone~~ text.\n",
          "Title Some emphasis and strong and gone text.", 8);
    check(BP_DOC_MARKDOWN, "Setext\n======\n\n---\n\n> quoted\n> > deeper\n",
          "Setext quoted deeper", 3);
    check(BP_DOC_MARKDOWN, "- one\n* two\n+ three\n1. four\n2) five\n- [x] six\n",
          "one two three four five six", 6);
}

static void test_markdown_code(void **state)
{
    (void)state;
    check(BP_DOC_MARKDOWN, "Use `snake_case` and `a*b*c`.\n\n```c\nint *p = a * b;\n```\nafter\n",
          "Use snake_case and a*b*c. int *p = a * b; after", 11);
    check(BP_DOC_MARKDOWN, "~~~\n# not a heading\n~~~\n", "# not a heading", 4);
    check(BP_DOC_MARKDOWN, "unclosed ` tick and 2 * 3 and snake_case_name\n",
          "unclosed ` tick and 2 * 3 and snake_case_name", 9);
}

static void test_markdown_links(void **state)
{
    (void)state;
    check(BP_DOC_MARKDOWN,
          "See [the docs](https://example.com/a_(b)) and ![a cat](cat.png \"title\") and "
          "[ref][1] and <https://x.org/y>.\n\n[1]: https://example.com\n",
          "See the docs and a cat and ref and https://x.org/y.", 10);
    check(BP_DOC_MARKDOWN, "[not a link] and [broken](x\n", "[not a link] and [broken](x", 5);
}

static void test_markdown_tables_html(void **state)
{
    (void)state;
    check(BP_DOC_MARKDOWN, "| a | b |\n|---|:-:|\n| 1 | two<br>lines |\n", "a b 1 two lines", 5);
    check(BP_DOC_MARKDOWN,
          "text <span class=\"x\">inline</span>\n<script>\nalert(1)\n</script>\nafter "
          "<!-- hidden\ncomment --> end &amp; \\*literal\\*\n",
          "text inline after end & *literal*", 6);
}

/* Lines that would be quadratic with naive scanning: must finish (ctest's timeout guards). */
static void test_markdown_pathological(void **state)
{
    static const char *const units[] = {"[", "[a](", "<a", "`` `", "(", "![", "<!", "*_"};
    size_t n = 1 << 20;
    char *in = malloc(n + 1);
    bp_text t;

    (void)state;
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t ul = strlen(units[u]);
        for (size_t i = 0; i < n; i++)
            in[i] = units[u][i % ul];
        in[n] = '\0';
        assert_int_equal(bp_extract(BP_DOC_MARKDOWN, in, n, &t), 0);
        assert_true(t.len <= n + 1);
        bp_text_free(&t);
    }
    free(in);
}

typedef struct releases {
    const char *base; /* the input */
    int calls;        /* release calls seen */
    size_t last;      /* offset of the last one */
} releases;

static void on_release(void *arg, const char *upto)
{
    releases *r = arg;
    size_t off = (size_t)(upto - r->base);

    assert_true(off >= r->last); /* monotonic */
    r->last = off;
    r->calls++;
}

/* The release hook is called as the input is consumed, in order, for every type, and the
 * text is the same as without it (slices never split a UTF-8 sequence). */
static void test_release_hook(void **state)
{
    static const char *const unit[] = {"word \xE3\x80\x80é ", "*md* [l](u)\n", "<p>h&amp;</p>\n"};
    size_t n = 3 * BP_TEXT_RELEASE_BYTES + 7;
    char *in = malloc(n + 1);

    (void)state;
    for (int type = 0; type < 3; type++) {
        size_t ul = strlen(unit[type]), len = 0;
        while (len + ul <= n) {
            memcpy(in + len, unit[type], ul);
            len += ul;
        }
        in[len] = '\0';
        releases r = {.base = in};
        bp_text a, b;
        assert_int_equal(bp_extract_release((bp_doc_type)type, in, len, &a, on_release, &r), 0);
        assert_int_equal(bp_extract((bp_doc_type)type, in, len, &b), 0);
        assert_true(r.calls >= 2);
        assert_true(r.last <= len && r.last >= len - BP_TEXT_RELEASE_BYTES);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.buf, b.buf, a.len);
        assert_int_equal(a.words, b.words);
        bp_text_free(&a);
        bp_text_free(&b);
    }
    free(in);
}

static void test_json_quote(void **state)
{
    size_t n;
    char *q;

    (void)state;
    q = bp_json_quote("a\"b\\c\n\x01"
                      "é",
                      9, &n);
    assert_string_equal(q, "\"a\\\"b\\\\c\\n\\u0001é\"");
    assert_int_equal(n, strlen(q));
    free(q);
    q = bp_json_quote("x\xFFy", 3, &n);
    assert_string_equal(q, "\"x\xEF\xBF\xBDy\"");
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_whitespace),
        cmocka_unit_test(test_utf8_check),
        cmocka_unit_test(test_doc_type),
        cmocka_unit_test(test_html_basic),
        cmocka_unit_test(test_html_dropped),
        cmocka_unit_test(test_html_entities),
        cmocka_unit_test(test_html_broken_nested),
        cmocka_unit_test(test_html_meta_charset_ignored),
        cmocka_unit_test(test_html_large),
        cmocka_unit_test(test_markdown_blocks),
        cmocka_unit_test(test_markdown_code),
        cmocka_unit_test(test_markdown_links),
        cmocka_unit_test(test_markdown_tables_html),
        cmocka_unit_test(test_markdown_pathological),
        cmocka_unit_test(test_release_hook),
        cmocka_unit_test(test_json_quote),
    };
    return cmocka_run_group_tests_name("bp_extract", tests, NULL, NULL);
}
