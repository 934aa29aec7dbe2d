/* test_bp_chunk.c -- cutting extracted text into overlapping chunks (bp_chunk.h): exact
 * boundaries, overlap, sentence-end cuts, empty input, one word, a 10,000-character word,
 * CJK sentences and emoji, and the invariants on a long generated text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bp_chunk.h"
#include "bp_extract.h"

#define MAX_CHUNKS 65536

typedef struct chunks {
    size_t n;
    size_t off[MAX_CHUNKS];
    size_t len[MAX_CHUNKS];
} chunks;

static void cut(const char *text, int words, int overlap, chunks *out)
{
    bp_chunker c;
    size_t off, len;

    out->n = 0;
    assert_int_equal(bp_chunker_init(&c, text, strlen(text), words, overlap), 0);
    while (bp_chunker_next(&c, &off, &len)) {
        assert_true(out->n < MAX_CHUNKS);
        out->off[out->n] = off;
        out->len[out->n] = len;
        out->n++;
    }
    assert_false(bp_chunker_next(&c, &off, &len)); /* stays finished */
    bp_chunker_fini(&c);
}

static void expect(const char *text, const chunks *c, size_t i, const char *want)
{
    assert_true(i < c->n);
    assert_int_equal(c->len[i], strlen(want));
    assert_memory_equal(text + c->off[i], want, strlen(want));
}

static size_t count_words(const char *s, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && (i == 0 || s[i - 1] == ' '))
            w++;
    return w;
}

static void test_empty_and_one(void **state)
{
    chunks c;

    (void)state;
    cut("", 10, 2, &c);
    assert_int_equal(c.n, 0);
    cut("one", 10, 2, &c);
    assert_int_equal(c.n, 1);
    expect("one", &c, 0, "one");
}

static void test_boundaries_overlap(void **state)
{
    static chunks c;
    const char *t = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10";

    (void)state;
    cut(t, 4, 1, &c);
    assert_int_equal(c.n, 3);
    expect(t, &c, 0, "w1 w2 w3 w4");
    expect(t, &c, 1, "w4 w5 w6 w7");
    expect(t, &c, 2, "w7 w8 w9 w10");
    cut(t, 5, 0, &c);
    assert_int_equal(c.n, 2);
    expect(t, &c, 0, "w1 w2 w3 w4 w5");
    expect(t, &c, 1, "w6 w7 w8 w9 w10");
    cut(t, 10, 3, &c); /* exactly one budget */
    assert_int_equal(c.n, 1);
    cut(t, 3, 2, &c); /* heavy overlap still advances one word per chunk */
    assert_int_equal(c.n, 8);
    expect(t, &c, 7, "w8 w9 w10");
    cut(t, 1, 5, &c); /* overlap clamped below the budget */
    assert_int_equal(c.n, 10);
    expect(t, &c, 9, "w10");
}

static void test_sentence_cut(void **state)
{
    static chunks c;
    /* budget 10, last fifth = words 9 and 10: the sentence end at word 9 wins */
    const char *t = "a b c d e f g h end. j k l m n o";
    /* the sentence end at word 5 is too early: cut at the budget */
    const char *u = "a b c d end. f g h i j k l";

    (void)state;
    cut(t, 10, 2, &c);
    assert_int_equal(c.n, 2);
    expect(t, &c, 0, "a b c d e f g h end.");
    expect(t, &c, 1, "h end. j k l m n o");
    cut(u, 10, 0, &c);
    expect(u, &c, 0, "a b c d end. f g h i j");
    /* closing quotes and ! ? count */
    const char *v = "a b c d e f g h \"Why?\" k l m";
    cut(v, 10, 0, &c);
    expect(v, &c, 0, "a b c d e f g h \"Why?\"");
}

static void test_long_word(void **state)
{
    static chunks c;
    char *t = malloc(10000 + 32);

    (void)state;
    memset(t, 'x', 10000);
    strcpy(t + 10000, " tail words here");
    cut(t, 2, 0, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.len[0], 10000 + 5); /* the giant word and "tail" */
    expect(t, &c, 1, "words here");
    cut(t, 1, 0, &c);
    assert_int_equal(c.len[0], 10000);
    free(t);
}

static void test_cjk_emoji(void **state)
{
    static chunks c;
    const char *t = "一二三。四五六！七八九？十";
    const char *e = "😀 😃 😄 😁 😆";

    (void)state;
    cut(t, 2, 0, &c); /* CJK sentences are units even without spaces */
    assert_int_equal(c.n, 2);
    expect(t, &c, 0, "一二三。四五六！");
    expect(t, &c, 1, "七八九？十");
    cut(t, 2, 1, &c);
    assert_int_equal(c.n, 3);
    expect(t, &c, 1, "四五六！七八九？");
    cut(e, 2, 1, &c);
    assert_int_equal(c.n, 4);
    expect(e, &c, 3, "😁 😆");
}

/* Invariants on a long text with random sentence ends: every chunk within budget, chunks
 * in order, each starting exactly overlap words before the previous end, all words covered. */
static void test_invariants(void **state)
{
    static chunks c;
    size_t cap = 200000, len = 0, words = 0;
    char *t = malloc(cap);
    unsigned rng = 12345;
    bp_text norm;

    (void)state;
    while (len + 32 < cap) {
        rng = rng * 1103515245u + 12345u;
        int wl = 1 + (int)((rng >> 16) % 9);
        for (int i = 0; i < wl; i++)
            t[len++] = (char)('a' + (rng >> (i + 3)) % 26);
        if ((rng >> 8) % 7 == 0)
            t[len++] = '.';
        t[len++] = ' ';
        words++;
    }
    t[len] = '\0';
    assert_int_equal(bp_extract(BP_DOC_TEXT, t, len, &norm), 0); /* drops the final space */
    assert_int_equal(norm.words, words);
    for (int budget = 1; budget <= 300; budget += 37) {
        int overlap = budget / 5;
        cut(norm.buf, budget, overlap, &c);
        size_t covered_to = 0;
        for (size_t i = 0; i < c.n; i++) {
            size_t w = count_words(norm.buf + c.off[i], c.len[i]);
            assert_true(w >= 1 && w <= (size_t)budget);
            assert_true(c.off[i] + c.len[i] > covered_to);
            if (i > 0) {
                size_t prev_end = c.off[i - 1] + c.len[i - 1];
                if (overlap == 0)
                    assert_int_equal(c.off[i], prev_end + 1);
                else
                    assert_int_equal(count_words(norm.buf + c.off[i], prev_end - c.off[i]),
                                     overlap);
                assert_true(w > (size_t)overlap || i == c.n - 1);
            } else {
                assert_int_equal(c.off[0], 0);
            }
            covered_to = c.off[i] + c.len[i];
        }
        assert_int_equal(covered_to, norm.len);
    }
    bp_text_free(&norm);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_one), cmocka_unit_test(test_boundaries_overlap),
        cmocka_unit_test(test_sentence_cut),  cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_cjk_emoji),     cmocka_unit_test(test_invariants),
    };
    return cmocka_run_group_tests_name("bp_chunk", tests, NULL, NULL);
}
