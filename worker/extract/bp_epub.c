/* bp_epub.c -- EPUB 2 and 3: the chapters in spine order, each a page ("chapter").
 *
 * META-INF/container.xml names the package document (OPF); its manifest maps ids to files,
 * its spine gives the reading order, its metadata the title (dc:title) and author
 * (dc:creator). Each chapter is XHTML; its text goes through the same libxml2 HTML
 * extractor as .html files (bp_html.c: visible text, h1-h6 as headings), which also reads
 * the HTML named entities (&nbsp;) an EPUB may use without declaring them. A chapter is
 * read whole (it is one zip entry under the zip limits) and refused if it declares
 * entities, like every XML part (bp_zip.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bp_doc_int.h"

#define T_START 1  /* XML_READER_TYPE_ELEMENT */
#define T_END   15 /* XML_READER_TYPE_END_ELEMENT */

typedef struct item {
    char *id;   /* manifest id */
    char *href; /* zip entry name, resolved against the OPF */
} item;

typedef struct opf {
    item *items;    /* manifest */
    size_t n_items; /* entries */
    char **spine;   /* idrefs in reading order */
    size_t n_spine; /* entries */
} opf;

static void opf_free(opf *o)
{
    for (size_t i = 0; i < o->n_items; i++) {
        free(o->items[i].id);
        free(o->items[i].href);
    }
    for (size_t i = 0; i < o->n_spine; i++)
        free(o->spine[i]);
    free(o->items);
    free(o->spine);
}

/* Decode %XX escapes of an href in place. */
static void unescape(char *s)
{
    char *o = s;

    for (char *p = s; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] != '\0' && p[2] != '\0') {
            char hex[3] = {p[1], p[2], '\0'}, *end;
            long v = strtol(hex, &end, 16);
            if (*end == '\0' && v > 0) {
                *o++ = (char)v;
                p += 2;
                continue;
            }
        }
        *o++ = *p;
    }
    *o = '\0';
}

static int rootfile(bp_zip *z, const bp_doc_src *src, char **out, bp_err *err)
{
    bp_xml *x;
    int rc = bp_xml_open(&x, z, "META-INF/container.xml", err);

    *out = NULL;
    if (rc != 0) {
        if (rc > 0)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "EPUB '%s': no META-INF/container.xml", src->name);
        return -1;
    }
    while (*out == NULL && (rc = bp_xml_next(x, err)) == 1)
        if (bp_xml_is(x, T_START, "rootfile"))
            *out = bp_xml_attr(x, "full-path");
    bp_xml_close(x);
    if (rc < 0)
        return -1;
    if (*out == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "EPUB '%s': container.xml names no package document",
                   src->name);
        return -1;
    }
    return 0;
}

static int read_opf(bp_zip *z, const bp_doc_src *src, const char *path, opf *o, bp_doc *d,
                    bp_err *err)
{
    bp_xml *x;
    xmlTextReaderPtr r;
    int rc = bp_xml_open(&x, z, path, err), which = 0;

    if (rc != 0) {
        if (rc > 0)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "EPUB '%s': package document '%s' is missing",
                       src->name, path);
        return -1;
    }
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        if (type == T_START && strcmp(ln, "item") == 0) {
            item *ni = realloc(o->items, (o->n_items + 1) * sizeof(*ni));
            if (ni == NULL)
                goto out_oom;
            o->items = ni;
            char *href = bp_xml_attr(x, "href");
            if (href != NULL)
                unescape(href);
            ni[o->n_items].id = bp_xml_attr(x, "id");
            ni[o->n_items].href = href != NULL ? bp_zip_resolve(path, href) : NULL;
            o->n_items++;
            free(href);
        } else if (type == T_START && strcmp(ln, "itemref") == 0) {
            char *lin = bp_xml_attr(x, "linear");
            bool skip = lin != NULL && strcmp(lin, "no") == 0; /* notes, covers: not the text */
            free(lin);
            if (skip)
                continue;
            if (o->n_spine >= src->lim.max_pages) {
                bp_err_set(err, BP_ERR_PROTOCOL, 0,
                           "EPUB '%s' has more than %u chapters, over the limit "
                           "(handlers.max_pages)",
                           src->name, src->lim.max_pages);
                rc = -1;
                break;
            }
            char **ns = realloc(o->spine, (o->n_spine + 1) * sizeof(*ns));
            if (ns == NULL)
                goto out_oom;
            o->spine = ns;
            ns[o->n_spine++] = bp_xml_attr(x, "idref");
        } else if (type == T_START) {
            which = strcmp(ln, "title") == 0 ? 1 : strcmp(ln, "creator") == 0 ? 2 : 0;
        } else if (type == T_END) {
            which = 0;
        } else if (which != 0 && (type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_CDATA)) {
            const char *v = (const char *)xmlTextReaderConstValue(r);
            char **dst = which == 1 ? &d->title : &d->author;
            if (v != NULL && *dst == NULL && bp_doc_set_string(dst, v, strlen(v)) != 0)
                goto out_oom;
        }
    }
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;

out_oom:
    bp_xml_close(x);
    bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading the EPUB package");
    return -1;
}

int bp_doc_epub_extract(const bp_doc_src *src, bp_doc *d, bp_err *err)
{
    bp_zip *z;
    opf o = {0};
    char *path = NULL;
    int rc = -1;

    if (bp_zip_open(&z, src, d->format, err) != 0)
        return -1;
    if (rootfile(z, src, &path, err) != 0 || read_opf(z, src, path, &o, d, err) != 0)
        goto out_free;
    rc = 0;
    for (size_t i = 0; i < o.n_spine && rc == 0 && !d->text.oom; i++) {
        const char *href = NULL;
        char *buf;
        size_t len, start;
        for (size_t k = 0; o.spine[i] != NULL && k < o.n_items && href == NULL; k++)
            if (o.items[k].id != NULL && strcmp(o.items[k].id, o.spine[i]) == 0)
                href = o.items[k].href;
        if (href == NULL)
            continue;
        if (bp_doc_new_page(src, d, err) != 0) {
            rc = -1;
            break;
        }
        start = bp_doc_here(d);
        int r = bp_zip_read(z, href, (size_t)src->lim.max_zip_bytes, &buf, &len, err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0) {
            if (memmem(buf, len, "<!ENTITY", 8) != NULL) {
                bp_err_set(err, BP_ERR_PROTOCOL, 0,
                           "EPUB '%s': chapter '%s' declares entities (<!ENTITY>): refused, as "
                           "a billion-laughs expansion could hide there",
                           src->name, href);
                free(buf);
                rc = -1;
                break;
            }
            if (bp_extract_into(BP_DOC_HTML, buf, len, &d->text) != 0 && !d->text.oom)
                d->text.oom = true;
            free(buf);
        }
        if (bp_doc_here(d) == start)
            (void)bp_doc_page_empty(d, (uint32_t)d->n_pages);
        bp_doc_progress(src, (unsigned)(i + 1), (unsigned)o.n_spine);
    }

out_free:
    free(path);
    opf_free(&o);
    bp_zip_close(z);
    return rc;
}
