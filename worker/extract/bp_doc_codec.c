/* bp_doc_codec.c -- a bp_doc as one flat buffer, for the trip from the extractor process to
 * the worker, and back with every field checked.
 *
 * Layout (host byte order: both ends are the same binary on the same machine):
 *   "BPDOC\x01\0\0"  magic and version
 *   u32 format       u32+bytes encoding
 *   str title        str author          (str: u32 length, 0xFFFFFFFF for NULL, bytes)
 *   u64 text length, text bytes (no NUL)
 *   u32 pages,    u64 offset each
 *   u32 empties,  u32 page number each
 *   u32 headings, (u64 offset, u8 level, str title) each
 * The decoder treats the buffer as hostile: bounds before every read, counts against the
 * limits before any allocation sized by them, and the bp_doc invariants (UTF-8, single
 * spaces, marks at word starts, in order) verified before the worker chunks the text. */
#include <stdlib.h>
#include <string.h>

#include "bp_doc.h"

#define BP_DOC_MAGIC     "BPDOC\x01\0\0"
#define BP_DOC_MAGIC_LEN 8
#define BP_DOC_NULL_STR  0xFFFFFFFFu /* a NULL title or author */
#define BP_DOC_STR_MAX   4096        /* titles are cut at 1,000 bytes when made */
#define BP_DOC_ENC_MAX   31          /* fits bp_doc.encoding with its NUL */

typedef struct wbuf {
    char *b;    /* output */
    size_t len; /* bytes written */
    size_t cap; /* bytes allocated */
    bool oom;   /* an allocation failed */
} wbuf;

static void put(wbuf *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->cap - w->len < n) {
        size_t nc = w->cap * 2 > w->len + n ? w->cap * 2 : w->len + n + 64;
        char *nb = realloc(w->b, nc);
        if (nb == NULL) {
            w->oom = true;
            return;
        }
        w->b = nb;
        w->cap = nc;
    }
    memcpy(w->b + w->len, p, n);
    w->len += n;
}

static void put_u32(wbuf *w, uint32_t v)
{
    put(w, &v, sizeof(v));
}

static void put_u64(wbuf *w, uint64_t v)
{
    put(w, &v, sizeof(v));
}

static void put_str(wbuf *w, const char *s)
{
    if (s == NULL) {
        put_u32(w, BP_DOC_NULL_STR);
        return;
    }
    size_t n = strlen(s);
    put_u32(w, (uint32_t)n);
    put(w, s, n);
}

int bp_doc_encode(const bp_doc *d, char **buf, size_t *len)
{
    wbuf w = {0};

    put(&w, BP_DOC_MAGIC, BP_DOC_MAGIC_LEN);
    put_u32(&w, (uint32_t)d->format);
    put_str(&w, d->encoding);
    put_str(&w, d->title);
    put_str(&w, d->author);
    put_u64(&w, d->text.len);
    put(&w, d->text.buf, d->text.len);
    put_u32(&w, (uint32_t)d->n_pages);
    for (size_t i = 0; i < d->n_pages; i++)
        put_u64(&w, d->pages[i]);
    put_u32(&w, (uint32_t)d->n_empty);
    for (size_t i = 0; i < d->n_empty; i++)
        put_u32(&w, d->empty_pages[i]);
    put_u32(&w, (uint32_t)d->n_headings);
    for (size_t i = 0; i < d->n_headings; i++) {
        put_u64(&w, d->headings[i].off);
        put(&w, &d->headings[i].level, 1);
        put_str(&w, d->headings[i].title);
    }
    if (w.oom) {
        free(w.b);
        return -1;
    }
    *buf = w.b;
    *len = w.len;
    return 0;
}

typedef struct rbuf {
    const unsigned char *b; /* input */
    size_t len;             /* its length */
    size_t pos;             /* read position */
} rbuf;

static bool get(rbuf *r, void *p, size_t n)
{
    if (r->len - r->pos < n)
        return false;
    memcpy(p, r->b + r->pos, n);
    r->pos += n;
    return true;
}

/* Whether s (n bytes) is UTF-8 with no control characters: a title or heading. */
static bool clean_string(const char *s, size_t n)
{
    if (bp_utf8_check((const unsigned char *)s, n) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return false;
    return true;
}

/* A string field into a malloc'd copy (*out NULL for the NULL marker). */
static bool get_str(rbuf *r, char **out, const char *what, bp_err *err)
{
    uint32_t n;

    *out = NULL;
    if (!get(r, &n, sizeof(n))) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output truncated in the %s", what);
        return false;
    }
    if (n == BP_DOC_NULL_STR)
        return true;
    if (n > BP_DOC_STR_MAX || r->len - r->pos < n ||
        !clean_string((const char *)r->b + r->pos, n)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "extractor output has a bad %s (%u bytes, not clean UTF-8 or too long)", what,
                   n);
        return false;
    }
    *out = malloc((size_t)n + 1);
    if (*out == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "out of memory reading the extractor output");
        return false;
    }
    memcpy(*out, r->b + r->pos, n);
    (*out)[n] = '\0';
    r->pos += n;
    return true;
}

/* The text invariant: UTF-8, no control bytes, single spaces, none at either end. Counts
 * the words. */
static bool check_text(const char *s, size_t n, size_t *words)
{
    size_t w = 0;

    if (bp_utf8_check((const unsigned char *)s, n) != n)
        return false;
    if (n > 0 && (s[0] == ' ' || s[n - 1] == ' '))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return false;
        if (c == ' ' && s[i + 1] == ' ')
            return false;
        if (c != ' ' && (i == 0 || s[i - 1] == ' '))
            w++;
    }
    *words = w;
    return true;
}

/* A mark offset: within the text, at a word start, not before prev. */
static bool good_mark(const bp_doc *d, uint64_t off, uint64_t prev)
{
    return off <= d->text.len && off >= prev &&
           (off == 0 || off == d->text.len || d->text.buf[off - 1] == ' ');
}

int bp_doc_decode(const char *buf, size_t len, const bp_doc_limits *lim, bp_doc *out, bp_err *err)
{
    bp_doc_limits l = bp_doc_limits_resolve(lim);
    rbuf r = {.b = (const unsigned char *)buf, .len = len};
    bp_doc d;
    char *enc = NULL;
    uint32_t fmt, n;
    uint64_t tlen, prev = 0;

    memset(&d, 0, sizeof(d));
    memset(out, 0, sizeof(*out));
    if (len < BP_DOC_MAGIC_LEN || memcmp(buf, BP_DOC_MAGIC, BP_DOC_MAGIC_LEN) != 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output does not start with its magic");
        return -1;
    }
    r.pos = BP_DOC_MAGIC_LEN;
    if (!get(&r, &fmt, sizeof(fmt)) || fmt == BP_FMT_UNKNOWN || fmt >= BP_FMT_COUNT_) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output names no known format");
        return -1;
    }
    d.format = (bp_doc_format)fmt;
    if (!get_str(&r, &enc, "encoding", err))
        goto out_free;
    if (enc == NULL || strlen(enc) > BP_DOC_ENC_MAX) { /* the encoder always writes one */
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad encoding name");
        goto out_free;
    }
    memcpy(d.encoding, enc, strlen(enc) + 1);
    if (!get_str(&r, &d.title, "title", err) || !get_str(&r, &d.author, "author", err))
        goto out_free;
    if (!get(&r, &tlen, sizeof(tlen)) || tlen > l.max_output_bytes || tlen > r.len - r.pos) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "extractor output has a bad text length (over the limit or the buffer)");
        goto out_free;
    }
    if (!check_text((const char *)r.b + r.pos, (size_t)tlen, &d.text.words)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "extractor output text breaks the invariant (UTF-8, single spaces)");
        goto out_free;
    }
    d.text.buf = malloc((size_t)tlen + 1);
    if (d.text.buf == NULL)
        goto out_oom;
    memcpy(d.text.buf, r.b + r.pos, (size_t)tlen);
    d.text.buf[tlen] = '\0';
    d.text.len = (size_t)tlen;
    d.text.cap = (size_t)tlen + 1;
    r.pos += (size_t)tlen;

    if (!get(&r, &n, sizeof(n)) || n > l.max_pages || (size_t)n * 8 > r.len - r.pos) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad page count");
        goto out_free;
    }
    d.pages = malloc(((size_t)n + 1) * sizeof(d.pages[0]));
    if (d.pages == NULL)
        goto out_oom;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = 0;
        if (!get(&r, &off, sizeof(off)) || !good_mark(&d, off, prev)) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad offset for page %u",
                       i + 1);
            goto out_free;
        }
        d.pages[d.n_pages++] = (size_t)off;
        prev = off;
    }
    if (!get(&r, &n, sizeof(n)) || n > d.n_pages || (size_t)n * 4 > r.len - r.pos) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad count of empty pages");
        goto out_free;
    }
    d.empty_pages = malloc(((size_t)n + 1) * sizeof(d.empty_pages[0]));
    if (d.empty_pages == NULL)
        goto out_oom;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = 0;
        if (!get(&r, &p, sizeof(p)) || p < 1 || p > d.n_pages ||
            (i > 0 && p <= d.empty_pages[i - 1])) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad empty page number");
            goto out_free;
        }
        d.empty_pages[d.n_empty++] = p;
    }
    if (!get(&r, &n, sizeof(n)) || n > l.max_marks || (size_t)n * 13 > r.len - r.pos) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad heading count");
        goto out_free;
    }
    d.headings = calloc((size_t)n + 1, sizeof(d.headings[0]));
    if (d.headings == NULL)
        goto out_oom;
    prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        bp_doc_heading *h = &d.headings[i];
        uint64_t off = 0;
        if (!get(&r, &off, sizeof(off)) || !get(&r, &h->level, 1) || h->level < 1 || h->level > 9 ||
            !good_mark(&d, off, prev)) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has a bad heading %u", i + 1);
            goto out_free;
        }
        h->off = (size_t)off;
        prev = off;
        d.n_headings++; /* counted before the title so bp_doc_free() frees it */
        if (!get_str(&r, &h->title, "heading title", err))
            goto out_free;
        if (h->title == NULL || h->title[0] == '\0') {
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has an empty heading %u", i + 1);
            goto out_free;
        }
    }
    if (r.pos != r.len) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "extractor output has %zu trailing bytes",
                   r.len - r.pos);
        goto out_free;
    }
    free(enc);
    *out = d;
    return 0;

out_oom:
    bp_err_set(err, BP_ERR_PROTOCOL, 0, "out of memory reading the extractor output");
out_free:
    free(enc);
    bp_doc_free(&d);
    return -1;
}
