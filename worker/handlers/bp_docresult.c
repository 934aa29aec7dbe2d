/* bp_docresult.c -- the document result object and the JSON form of chunks (see
 * bp_docresult.h).
 *
 * Chunks are written by hand with bp_json_quote() (a 1,000-page PDF makes thousands of
 * them; jansson would build and free a tree per chunk). The result object is small and
 * made once per job, so it uses jansson. A chunk's page range comes from a binary search in
 * the page marks; its heading path from walking the heading marks forward once per
 * document: a heading of level l closes every open heading of level >= l. */
#include "bp_docresult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

void bp_chunk_label_init(bp_chunk_label *l, const bp_doc *doc)
{
    memset(l, 0, sizeof(*l));
    l->doc = doc;
}

/* 1-based number of the page holding offset off. */
static size_t page_of(const bp_doc *d, size_t off)
{
    size_t lo = 0, hi = d->n_pages; /* the last page starting at or before off: pages that
                                        start at the same offset were empty but the last */

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->pages[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return lo + 1;
}

typedef struct sbuf {
    char *b;    /* bytes */
    size_t len; /* used */
    size_t cap; /* allocated */
    bool oom;   /* an allocation failed */
} sbuf;

static void add(sbuf *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->cap - s->len < n + 1) {
        size_t nc = (s->len + n + 1) * 2;
        char *nb = realloc(s->b, nc);
        if (nb == NULL) {
            s->oom = true;
            return;
        }
        s->b = nb;
        s->cap = nc;
    }
    memcpy(s->b + s->len, p, n);
    s->len += n;
    s->b[s->len] = '\0';
}

static void add_quoted(sbuf *s, const char *p, size_t n)
{
    size_t ql;
    char *q = bp_json_quote(p, n, &ql);

    if (q == NULL) {
        s->oom = true;
        return;
    }
    add(s, q, ql);
    free(q);
}

char *bp_chunk_json(bp_chunk_label *l, size_t off, size_t len, size_t *out_len)
{
    const bp_doc *d = l->doc;
    sbuf s = {0};
    char num[96];
    bool first = true;

    /* headings that start at or before the chunk's first word are its path */
    while (l->next < d->n_headings && d->headings[l->next].off <= off) {
        int lv = d->headings[l->next].level;
        l->path[lv - 1] = l->next;
        l->open[lv - 1] = true;
        for (int k = lv; k < 9; k++)
            l->open[k] = false;
        l->next++;
    }
    add(&s, "{\"text\":", 8);
    add_quoted(&s, d->text.buf + off, len);
    snprintf(num, sizeof(num), ",\"offset\":%zu,\"length\":%zu", off, len);
    add(&s, num, strlen(num));
    if (d->n_pages > 0) {
        size_t last = len > 0 ? off + len - 1 : off;
        snprintf(num, sizeof(num), ",\"pages\":[%zu,%zu]", page_of(d, off), page_of(d, last));
        add(&s, num, strlen(num));
    }
    add(&s, ",\"headings\":[", 13);
    for (int k = 0; k < 9; k++) {
        if (!l->open[k])
            continue;
        const char *t = d->headings[l->path[k]].title;
        if (!first)
            add(&s, ",", 1);
        add_quoted(&s, t, strlen(t));
        first = false;
    }
    add(&s, "]}", 2);
    if (s.oom) {
        free(s.b);
        return NULL;
    }
    *out_len = s.len;
    return s.b;
}

size_t *bp_doc_heading_offsets(const bp_doc *doc, size_t *n)
{
    size_t *b;

    *n = doc->n_headings;
    if (doc->n_headings == 0)
        return NULL;
    b = malloc(doc->n_headings * sizeof(b[0]));
    if (b == NULL)
        return NULL;
    for (size_t i = 0; i < doc->n_headings; i++)
        b[i] = doc->headings[i].off;
    return b;
}

char *bp_docresult_json(const bp_doc *doc, const char *sha, size_t bytes, size_t n_chunks,
                        bool json_chunks)
{
    json_t *o = json_object(), *empty = NULL;
    char *out = NULL;

    if (o == NULL)
        return NULL;
    /* json_object_set_new() steals each new reference */
    json_object_set_new(o, "sha256", json_string(sha));
    json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
    json_object_set_new(o, "format", json_string(bp_doc_format_name(doc->format)));
    if (doc->encoding[0] != '\0')
        json_object_set_new(o, "encoding", json_string(doc->encoding));
    json_object_set_new(o, "words", json_integer((json_int_t)doc->text.words));
    json_object_set_new(o, "chunks", json_integer((json_int_t)n_chunks));
    if (json_chunks)
        json_object_set_new(o, "chunk_format", json_string("json"));
    if (doc->n_pages > 0) {
        json_object_set_new(o, "pages", json_integer((json_int_t)doc->n_pages));
        json_object_set_new(o, "page_unit", json_string(bp_doc_page_unit(doc->format)));
    }
    if (doc->title != NULL)
        json_object_set_new(o, "title", json_string(doc->title));
    if (doc->author != NULL)
        json_object_set_new(o, "author", json_string(doc->author));
    if (doc->n_headings > 0)
        json_object_set_new(o, "headings", json_integer((json_int_t)doc->n_headings));
    if (doc->n_empty > 0) {
        char note[200];
        empty = json_array();
        for (size_t i = 0; empty != NULL && i < doc->n_empty; i++)
            json_array_append_new(empty, json_integer(doc->empty_pages[i]));
        json_object_set_new(o, "pages_without_text", empty);
        snprintf(note, sizeof(note),
                 "%zu of %zu %ss have no text layer (scanned or image-only): their content "
                 "is not in the chunks; run OCR on them to read it",
                 doc->n_empty, doc->n_pages, bp_doc_page_unit(doc->format));
        json_object_set_new(o, "warning", json_string(note));
    }
    json_object_set_new(o, "cached", json_false());
    out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return out;
}
