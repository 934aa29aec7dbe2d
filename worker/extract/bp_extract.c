/* bp_extract.c -- UTF-8 validation, the white-space-normalising text buffer, plain text
 * extraction, the type dispatch and a UTF-8-safe JSON string encoder.
 *
 * Invariant of bp_text: buf holds words separated by exactly one ASCII space, never a
 * leading or trailing space, and is NUL-terminated. Every extractor (text here, Markdown in
 * bp_markdown.c, HTML in bp_html.c) appends through bp_text_append()/bp_text_break(), so
 * the invariant and the word count live in one place. Words are counted as they are
 * written, without allocating per word. */
#include "bp_extract.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BP_TEXT_MIN_CAP 64 /* first allocation for an empty document */

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0 when it is malformed
 * (Unicode table 3-7: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

size_t bp_utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        if (n - i >= 8) { /* ASCII fast path, 8 bytes at a time */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0)
            return i;
        i += l;
    }
    return n;
}

int bp_doc_type_parse(const char *name, bp_doc_type *out)
{
    if (strcmp(name, "text") == 0)
        *out = BP_DOC_TEXT;
    else if (strcmp(name, "markdown") == 0)
        *out = BP_DOC_MARKDOWN;
    else if (strcmp(name, "html") == 0)
        *out = BP_DOC_HTML;
    else
        return -1;
    return 0;
}

bp_doc_type bp_doc_type_from_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash != NULL ? slash : path, '.');

    if (dot == NULL)
        return BP_DOC_TEXT;
    if (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0)
        return BP_DOC_MARKDOWN;
    if (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0)
        return BP_DOC_HTML;
    return BP_DOC_TEXT;
}

int bp_text_init(bp_text *t, size_t hint)
{
    memset(t, 0, sizeof(*t));
    t->cap = hint + 2 > BP_TEXT_MIN_CAP ? hint + 2 : BP_TEXT_MIN_CAP;
    t->buf = malloc(t->cap);
    if (t->buf == NULL) {
        t->cap = 0;
        t->oom = true;
        return -1;
    }
    t->buf[0] = '\0';
    return 0;
}

void bp_text_free(bp_text *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
}

/* Make room for need more bytes plus a separator and the NUL. */
static bool text_reserve(bp_text *t, size_t need)
{
    if (t->oom)
        return false;
    if (t->cap - t->len >= need + 2)
        return true;
    size_t cap = t->cap * 2;
    if (cap < t->len + need + 2)
        cap = t->len + need + 2;
    char *nb = realloc(t->buf, cap);
    if (nb == NULL) {
        t->oom = true;
        return false;
    }
    t->buf = nb;
    t->cap = cap;
    return true;
}

/* Bytes of white space at s (a whole UTF-8 sequence), or 0 when s starts something else.
 * ASCII controls count as white space so no NUL or escape byte reaches a chunk. */
static size_t space_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];

    if (c <= 0x20 || c == 0x7F)
        return 1;
    if (c < 0x80 || n < 2)
        return 0;
    if (c == 0xC2)
        return s[1] <= 0x9F || s[1] == 0xA0 ? 2 : 0; /* C1 controls, NEL, NBSP */
    if (n < 3)
        return 0;
    if (c == 0xE1 && s[1] == 0x9A && s[2] == 0x80)
        return 3; /* U+1680 */
    if (c == 0xE2 && s[1] == 0x80 && (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3; /* U+2000..200A, U+2028, U+2029, U+202F */
    if (c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
        return 3; /* U+205F */
    if (c == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
        return 3; /* U+3000 ideographic space */
    if (c == 0xEF && s[1] == 0xBB && s[2] == 0xBF)
        return 3; /* U+FEFF byte order mark */
    return 0;
}

/* Append n bytes that fit: the caller checked t->limit. */
static void append_some(bp_text *t, const char *in, size_t n)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;

    if (n == 0 || !text_reserve(t, n))
        return;
    char *o = t->buf + t->len;
    while (i < n) {
        unsigned char c = s[i];
        size_t sl = c > 0x20 && c < 0x7F ? 0 : space_len(s + i, n - i);
        if (sl > 0) {
            t->pending_space = true;
            i += sl;
            continue;
        }
        if (t->pending_space || o == t->buf) { /* a new word starts here */
            if (o != t->buf)
                *o++ = ' ';
            t->words++;
            t->pending_space = false;
        }
        *o++ = (char)c;
        i++;
        while (i < n && s[i] > 0x20 && s[i] < 0x7F) /* the rest of an ASCII word */
            *o++ = (char)s[i++];
    }
    t->len = (size_t)(o - t->buf);
    t->buf[t->len] = '\0';
}

void bp_text_append(bp_text *t, const char *in, size_t n)
{
    while (n > 0 && !t->oom) {
        size_t step = n;
        if (t->limit > 0) { /* n bytes append at most n + 1 (a leading separator) */
            size_t room = t->limit > t->len + 1 ? t->limit - t->len - 1 : 0;
            if (room == 0) {
                t->oom = t->over = true;
                return;
            }
            if (step > room) {
                step = room;
                while (step > 1 && ((unsigned char)in[step] & 0xC0) == 0x80)
                    step--; /* cut at a sequence start: white space is recognised whole */
            }
        }
        append_some(t, in, step);
        in += step;
        n -= step;
    }
}

void bp_text_break(bp_text *t)
{
    t->pending_space = true;
}

/* Plain text in slices cut at UTF-8 sequence starts, releasing the input behind. */
static void extract_text(const char *in, size_t n, bp_text *t)
{
    size_t off = 0;

    while (off < n && !t->oom) {
        size_t end = n - off > BP_TEXT_RELEASE_BYTES ? off + BP_TEXT_RELEASE_BYTES : n;
        while (end < n && ((unsigned char)in[end] & 0xC0) == 0x80)
            end++; /* never split a sequence: white space is recognised whole */
        bp_text_append(t, in + off, end - off);
        off = end;
        if (t->release != NULL)
            t->release(t->release_arg, in + off);
    }
}

size_t bp_text_here(const bp_text *t)
{
    return t->len == 0 ? 0 : t->len + 1;
}

int bp_extract_into(bp_doc_type type, const char *in, size_t n, bp_text *t)
{
    switch (type) {
    case BP_DOC_TEXT:
        extract_text(in, n, t);
        break;
    case BP_DOC_MARKDOWN:
        bp_extract_markdown(in, n, t);
        break;
    case BP_DOC_HTML:
        if (bp_extract_html(in, n, t) != 0)
            t->oom = true;
        break;
    }
    return t->oom ? -1 : 0;
}

int bp_extract_release(bp_doc_type type, const char *in, size_t n, bp_text *t,
                       void (*release)(void *arg, const char *upto), void *arg)
{
    if (bp_text_init(t, n) != 0)
        return -1;
    t->release = release;
    t->release_arg = arg;
    if (bp_extract_into(type, in, n, t) != 0) {
        bp_text_free(t);
        return -1;
    }
    return 0;
}

int bp_extract(bp_doc_type type, const char *in, size_t n, bp_text *t)
{
    return bp_extract_release(type, in, n, t, NULL, NULL);
}

char *bp_json_quote(const char *str, size_t n, size_t *out_len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t cap = n + n / 8 + 16, len = 0;
    char *o = malloc(cap);

    if (o == NULL)
        return NULL;
    o[len++] = '"';
    for (size_t i = 0; i < n;) {
        if (cap - len < 16) { /* the longest single step writes 6 bytes, plus the end */
            cap *= 2;
            char *no = realloc(o, cap);
            if (no == NULL) {
                free(o);
                return NULL;
            }
            o = no;
        }
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            o[len++] = '\\';
            o[len++] = (char)c;
            i++;
        } else if (c < 0x20) {
            o[len++] = '\\';
            if (c == '\n')
                o[len++] = 'n';
            else if (c == '\t')
                o[len++] = 't';
            else if (c == '\r')
                o[len++] = 'r';
            else {
                memcpy(o + len, "u00", 3);
                len += 3;
                o[len++] = hex[c >> 4];
                o[len++] = hex[c & 15];
            }
            i++;
        } else if (c < 0x80) {
            o[len++] = (char)c;
            i++;
        } else {
            size_t l = utf8_seq_len(s + i, n - i);
            if (l == 0) {
                memcpy(o + len, "\xEF\xBF\xBD", 3); /* U+FFFD replacement character */
                len += 3;
                i++;
            } else {
                memcpy(o + len, s + i, l);
                len += l;
                i += l;
            }
        }
    }
    o[len++] = '"';
    o[len] = '\0';
    *out_len = len;
    return o;
}
