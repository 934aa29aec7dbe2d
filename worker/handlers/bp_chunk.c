/* bp_chunk.c -- overlapping chunks by offsets (see bp_chunk.h for the rules).
 *
 * One forward scan per chunk; the start offsets of the chunk's units are remembered in one
 * array of chunk_words entries, so the overlap is found without scanning backwards and no
 * memory is allocated per word or per chunk. The total work is the text's length times
 * (1 + overlap_words / (chunk_words - overlap_words)). */
#include "bp_chunk.h"

#include <stdlib.h>
#include <string.h>

/* A CJK sentence end at s: U+3002 。, U+FF01 ！, U+FF1F ？ (3 bytes each). */
static bool cjk_end(const unsigned char *s, size_t n)
{
    if (n < 3)
        return false;
    if (s[0] == 0xE3)
        return s[1] == 0x80 && s[2] == 0x82;
    if (s[0] == 0xEF)
        return s[1] == 0xBC && (s[2] == 0x81 || s[2] == 0x9F);
    return false;
}

/* Whether the word w (n bytes) ends a sentence: . ! ? then any closing quotes/brackets. */
static bool ends_sentence(const unsigned char *w, size_t n)
{
    while (n > 0) {
        unsigned char c = w[n - 1];
        if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || c == '*' || c == '_') {
            n--;
        } else if (n >= 3 && w[n - 3] == 0xE2 && w[n - 2] == 0x80 &&
                   (c == 0x9D || c == 0x99)) { /* ” ’ */
            n -= 3;
        } else if (n >= 2 && w[n - 2] == 0xC2 && c == 0xBB) { /* » */
            n -= 2;
        } else {
            break;
        }
    }
    if (n == 0)
        return false;
    unsigned char c = w[n - 1];
    if (c == '.' || c == '!' || c == '?')
        return true;
    return n >= 3 && w[n - 3] == 0xE2 && w[n - 2] == 0x80 && c == 0xA6; /* … */
}

int bp_chunker_init(bp_chunker *c, const char *buf, size_t len, int chunk_words, int overlap_words)
{
    memset(c, 0, sizeof(*c));
    if (chunk_words < 1)
        chunk_words = 1;
    if (overlap_words < 0)
        overlap_words = 0;
    if (overlap_words > chunk_words - 1)
        overlap_words = chunk_words - 1;
    c->buf = buf;
    c->len = len;
    c->chunk_words = chunk_words;
    c->overlap_words = overlap_words;
    c->min_cut = chunk_words - chunk_words / 5; /* a sentence end in the last fifth */
    if (c->min_cut < overlap_words + 1)
        c->min_cut = overlap_words + 1; /* every chunk must move past the overlap */
    c->starts = malloc(((size_t)chunk_words + 1) * sizeof(c->starts[0]));
    if (c->starts == NULL)
        return -1;
    c->done = len == 0;
    return 0;
}

void bp_chunker_set_bounds(bp_chunker *c, const size_t *bounds, size_t n)
{
    c->bounds = bounds;
    c->n_bounds = n;
    c->next_bound = 0;
    c->min_section = c->chunk_words / 4;
    if (c->min_section < c->overlap_words + 1)
        c->min_section = c->overlap_words + 1;
    if (c->min_section > c->chunk_words)
        c->min_section = c->chunk_words;
}

bool bp_chunker_next(bp_chunker *c, size_t *off, size_t *len)
{
    const unsigned char *b = (const unsigned char *)c->buf;
    size_t p = c->pos, last_end = p, best_end = 0;
    int k = 0, best_k = 0;

    if (c->done || c->pos >= c->len)
        return false;
    while (k < c->chunk_words && p < c->len) {
        size_t q = p, end, next;
        bool sentence = false;
        while (c->next_bound < c->n_bounds && c->bounds[c->next_bound] < p)
            c->next_bound++;
        if (k >= c->min_section && c->next_bound < c->n_bounds &&
            c->bounds[c->next_bound] == p) { /* a section starts here: end the chunk */
            *off = c->pos;
            *len = last_end - c->pos;
            c->pos = p;
            return true;
        }
        c->starts[k] = p;
        for (;;) { /* find the end of the unit starting at p */
            if (q >= c->len) {
                end = next = c->len;
                break;
            }
            if (b[q] == ' ') {
                end = q;
                next = q + 1;
                break;
            }
            if (b[q] >= 0xE3 && cjk_end(b + q, c->len - q)) {
                end = q + 3;
                next = end < c->len && b[end] == ' ' ? end + 1 : end;
                sentence = true;
                break;
            }
            q++;
        }
        if (!sentence)
            sentence = ends_sentence(b + p, end - p);
        k++;
        last_end = end;
        if (sentence && k >= c->min_cut) {
            best_k = k;
            best_end = end;
        }
        p = next;
    }
    *off = c->pos;
    if (p >= c->len) { /* the rest fits: last chunk */
        *len = c->len - c->pos;
        c->done = true;
        return true;
    }
    c->starts[k] = p; /* where the unit after the last one starts (overlap 0) */
    int cut = best_k > 0 ? best_k : k;
    *len = (best_k > 0 ? best_end : last_end) - c->pos;
    c->pos = c->starts[cut - c->overlap_words];
    return true;
}

void bp_chunker_fini(bp_chunker *c)
{
    free(c->starts);
    c->starts = NULL;
}
