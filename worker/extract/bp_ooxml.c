/* bp_ooxml.c -- Office Open XML: DOCX, PPTX and XLSX text in reading order, streamed with
 * libxml2's reader from the zip (bp_zip.c), never as a DOM.
 *
 * DOCX: word/document.xml paragraph by paragraph (w:t runs; tabs, breaks and table cells
 * separate words; deleted text and field codes are other elements and so never read).
 * Headings are paragraphs whose style (word/styles.xml: a "heading N"/"Title" name or an
 * outline level, so localised style ids work too) or own w:outlineLvl gives a level. A new
 * page starts at an explicit page break or where Word last rendered one. Footnotes and
 * endnotes follow the body. PPTX: slides in presentation order (p:sldIdLst), each a page;
 * a title placeholder is the slide's heading; the speaker notes follow the slide's text.
 * XLSX: sheets in workbook order, each a page headed by its name; cells row by row,
 * shared strings resolved. Title and author come from docProps/core.xml. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_doc_int.h"

#define T_START             1          /* XML_READER_TYPE_ELEMENT */
#define T_END               15         /* XML_READER_TYPE_END_ELEMENT */
#define BP_OOXML_SMALL_PART (4u << 20) /* rels, core properties */

/* A growable string for short values (cell values, titles). */
typedef struct sbuf {
    char *b;    /* bytes, NUL-terminated when b != NULL */
    size_t len; /* bytes used */
    size_t cap; /* bytes allocated */
} sbuf;

static int sb_add(sbuf *s, const char *p, size_t n)
{
    if (s->cap - s->len < n + 1) {
        size_t nc = (s->cap + n + 1) * 2;
        char *nb = realloc(s->b, nc);
        if (nb == NULL)
            return -1;
        s->b = nb;
        s->cap = nc;
    }
    memcpy(s->b + s->len, p, n);
    s->len += n;
    s->b[s->len] = '\0';
    return 0;
}

/* The relationships of a part: id -> target (resolved against the part), and type. */
typedef struct rel {
    char *id;     /* r:id */
    char *target; /* zip entry name */
    char *type;   /* relationship type URI */
} rel;

typedef struct rels {
    rel *v;   /* entries */
    size_t n; /* count */
} rels;

static void rels_free(rels *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].id);
        free(r->v[i].target);
        free(r->v[i].type);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* "word/document.xml" -> "word/_rels/document.xml.rels" */
static char *rels_name(const char *part)
{
    const char *slash = strrchr(part, '/');
    size_t dir = slash != NULL ? (size_t)(slash - part) + 1 : 0;
    char *out = malloc(strlen(part) + 12);

    if (out != NULL)
        sprintf(out, "%.*s_rels/%s.rels", (int)dir, part, part + dir);
    return out;
}

/* Read the relationships of part (a missing file is an empty set). */
static int rels_read(bp_zip *z, const char *part, rels *out, bp_err *err)
{
    char *name = rels_name(part);
    bp_xml *x;
    int rc;

    memset(out, 0, sizeof(*out));
    if (name == NULL)
        goto out_oom;
    rc = bp_xml_open(&x, z, name, err);
    if (rc != 0) {
        free(name);
        return rc > 0 ? 0 : -1;
    }
    while ((rc = bp_xml_next(x, err)) == 1) {
        if (!bp_xml_is(x, T_START, "Relationship"))
            continue;
        rel *nv = realloc(out->v, (out->n + 1) * sizeof(*nv));
        if (nv == NULL)
            goto out_oom_x;
        out->v = nv;
        char *target = bp_xml_attr(x, "Target"), *mode = bp_xml_attr(x, "TargetMode");
        rel *r = &out->v[out->n++];
        r->id = bp_xml_attr(x, "Id");
        r->type = bp_xml_attr(x, "Type");
        r->target = target != NULL && (mode == NULL || strcasecmp(mode, "External") != 0)
                        ? bp_zip_resolve(part, target)
                        : NULL;
        free(target);
        free(mode);
    }
    bp_xml_close(x);
    free(name);
    if (rc < 0) {
        rels_free(out); /* the caller owns nothing on failure */
        return -1;
    }
    return 0;

out_oom_x:
    bp_xml_close(x);
out_oom:
    free(name);
    rels_free(out);
    bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading relationships");
    return -1;
}

static const char *rels_target(const rels *r, const char *id)
{
    for (size_t i = 0; id != NULL && i < r->n; i++)
        if (r->v[i].id != NULL && strcmp(r->v[i].id, id) == 0)
            return r->v[i].target;
    return NULL;
}

static const char *rels_by_type(const rels *r, const char *suffix)
{
    size_t sl = strlen(suffix);

    for (size_t i = 0; i < r->n; i++) {
        const char *t = r->v[i].type;
        if (t != NULL && strlen(t) >= sl && strcmp(t + strlen(t) - sl, suffix) == 0)
            return r->v[i].target;
    }
    return NULL;
}

/* The text content of the current node's text children, appended to d (text nodes and
 * significant white space). */
static void take_text(bp_xml *x, bp_doc *d)
{
    const xmlChar *v = xmlTextReaderConstValue(bp_xml_reader(x));

    if (v != NULL)
        bp_text_append(&d->text, (const char *)v, strlen((const char *)v));
}

static bool is_text_node(bp_xml *x)
{
    int t = xmlTextReaderNodeType(bp_xml_reader(x));
    return t == XML_READER_TYPE_TEXT || t == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
           t == XML_READER_TYPE_CDATA;
}

/* docProps/core.xml: dc:title and dc:creator. A missing part is fine. */
static int core_props(bp_zip *z, bp_doc *d, bp_err *err)
{
    bp_xml *x;
    sbuf s = {0};
    int rc = bp_xml_open(&x, z, "docProps/core.xml", err), which = 0;

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    while ((rc = bp_xml_next(x, err)) == 1) {
        if (bp_xml_is(x, T_START, "title") || bp_xml_is(x, T_START, "creator")) {
            which = xmlTextReaderConstLocalName(bp_xml_reader(x))[0] == 't' ? 1 : 2;
            s.len = 0;
        } else if (which != 0 && is_text_node(x)) {
            const xmlChar *v = xmlTextReaderConstValue(bp_xml_reader(x));
            if (v != NULL && sb_add(&s, (const char *)v, strlen((const char *)v)) != 0)
                rc = -1;
        } else if (which != 0 && xmlTextReaderNodeType(bp_xml_reader(x)) == T_END) {
            if (s.len > 0 &&
                bp_doc_set_string(which == 1 ? &d->title : &d->author, s.b, s.len) != 0)
                rc = -1;
            which = 0;
        }
        if (rc < 0) {
            bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading document properties");
            break;
        }
    }
    free(s.b);
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;
}

/* ---- DOCX ---- */

typedef struct style_level {
    char *id;  /* w:styleId */
    int level; /* 1..9 */
} style_level;

typedef struct docx {
    style_level *styles; /* heading styles only */
    size_t n_styles;     /* entries */
} docx;

/* The heading level a style name implies: "heading 3" -> 3, "Title" -> 1, else 0. */
static int level_of_name(const char *name)
{
    if (strncasecmp(name, "heading", 7) == 0) { /* "heading 1", or the id "Heading1" */
        const char *d = name[7] == ' ' ? name + 8 : name + 7;
        if (d[0] >= '1' && d[0] <= '9' && d[1] == '\0')
            return d[0] - '0';
    }
    if (strcasecmp(name, "title") == 0)
        return 1;
    return 0;
}

static int docx_styles(bp_zip *z, docx *dx, bp_err *err)
{
    bp_xml *x;
    char *id = NULL;
    int level = 0, rc = bp_xml_open(&x, z, "word/styles.xml", err);

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    while ((rc = bp_xml_next(x, err)) == 1) {
        if (bp_xml_is(x, T_START, "style")) {
            free(id);
            id = bp_xml_attr(x, "styleId");
            level = 0;
        } else if (id != NULL && bp_xml_is(x, T_START, "name")) {
            char *v = bp_xml_attr(x, "val");
            if (v != NULL && level == 0)
                level = level_of_name(v);
            free(v);
        } else if (id != NULL && bp_xml_is(x, T_START, "outlineLvl")) {
            char *v = bp_xml_attr(x, "val");
            if (v != NULL && v[0] >= '0' && v[0] <= '8' && v[1] == '\0')
                level = v[0] - '0' + 1;
            free(v);
        } else if (bp_xml_is(x, T_END, "style")) {
            if (id != NULL && level > 0) {
                style_level *ns = realloc(dx->styles, (dx->n_styles + 1) * sizeof(*ns));
                if (ns == NULL) {
                    rc = -1;
                    bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading styles");
                    break;
                }
                dx->styles = ns;
                ns[dx->n_styles].id = id;
                ns[dx->n_styles++].level = level;
                id = NULL;
            }
            free(id);
            id = NULL;
        }
    }
    free(id);
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;
}

static int style_level_of(const docx *dx, const char *id)
{
    for (size_t i = 0; i < dx->n_styles; i++)
        if (strcmp(dx->styles[i].id, id) == 0)
            return dx->styles[i].level;
    return level_of_name(id); /* "Heading1" without styles.xml */
}

/* One WordprocessingML part (body, footnotes, endnotes). body: page breaks and headings. */
static int docx_part(const bp_doc_src *src, bp_zip *z, const docx *dx, const char *name, bool body,
                     bp_doc *d, bp_err *err)
{
    bp_xml *x;
    int rc = bp_xml_open(&x, z, name, err), p_depth = 0, level = 0, in_t = 0, skip = 0;
    size_t p_start = 0, page_start = bp_doc_here(d);
    xmlTextReaderPtr r;

    if (rc != 0) {
        if (rc > 0 && body)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "DOCX '%s': no %s part", src->name, name);
        return rc > 0 && !body ? 0 : -1;
    }
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        bool empty = type == T_START && xmlTextReaderIsEmptyElement(r);

        if (type == T_START) {
            if (strcmp(ln, "p") == 0) {
                bp_text_break(&d->text);
                if (++p_depth == 1) {
                    p_start = bp_doc_here(d);
                    level = 0;
                }
            } else if (strcmp(ln, "t") == 0 && skip == 0) {
                in_t = !empty;
            } else if (strcmp(ln, "pStyle") == 0 && p_depth == 1) {
                char *v = bp_xml_attr(x, "val");
                if (v != NULL && level == 0)
                    level = style_level_of(dx, v);
                free(v);
            } else if (strcmp(ln, "outlineLvl") == 0 && p_depth == 1) {
                char *v = bp_xml_attr(x, "val");
                if (v != NULL && v[0] >= '0' && v[0] <= '8' && v[1] == '\0')
                    level = v[0] - '0' + 1;
                free(v);
            } else if (strcmp(ln, "footnote") == 0 || strcmp(ln, "endnote") == 0) {
                char *v = bp_xml_attr(x, "type"); /* separators are not notes */
                if (v != NULL && strcmp(v, "normal") != 0)
                    skip++;
                free(v);
                bp_text_break(&d->text);
            } else if (strcmp(ln, "br") == 0 || strcmp(ln, "lastRenderedPageBreak") == 0) {
                char *v = ln[0] == 'b' ? bp_xml_attr(x, "type") : NULL;
                bool page = ln[0] == 'l' || (v != NULL && strcmp(v, "page") == 0);
                free(v);
                if (page && body && bp_doc_here(d) > page_start) {
                    if (bp_doc_new_page(src, d, err) != 0) {
                        rc = -1;
                        break;
                    }
                    page_start = bp_doc_here(d);
                    bp_doc_progress(src, (unsigned)d->n_pages, 0);
                } else {
                    bp_text_break(&d->text);
                }
            } else if (strcmp(ln, "tab") == 0 || strcmp(ln, "cr") == 0 || strcmp(ln, "tc") == 0 ||
                       strcmp(ln, "noBreakHyphen") == 0) {
                bp_text_break(&d->text);
            }
        } else if (type == T_END) {
            if (strcmp(ln, "t") == 0) {
                in_t = 0;
            } else if (strcmp(ln, "tc") == 0 || strcmp(ln, "tr") == 0) {
                bp_text_break(&d->text);
            } else if ((strcmp(ln, "footnote") == 0 || strcmp(ln, "endnote") == 0) && skip > 0) {
                skip--;
            }
        } else if (in_t && skip == 0 && is_text_node(x)) {
            take_text(x, d);
        }
        if ((type == T_END || empty) && strcmp(ln, "p") == 0 && p_depth > 0) {
            if (--p_depth == 0 && level > 0 && body && bp_doc_here(d) > p_start)
                (void)bp_doc_heading_mark(d, p_start, level, d->text.buf + p_start,
                                          d->text.len - p_start);
            bp_text_break(&d->text);
        }
        if (d->text.oom)
            break;
    }
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;
}

static int docx_extract(const bp_doc_src *src, bp_zip *z, bp_doc *d, bp_err *err)
{
    docx dx = {0};
    int rc = docx_styles(z, &dx, err);

    if (rc == 0 && bp_doc_new_page(src, d, err) != 0)
        rc = -1;
    if (rc == 0)
        rc = docx_part(src, z, &dx, "word/document.xml", true, d, err);
    if (rc == 0)
        rc = docx_part(src, z, &dx, "word/footnotes.xml", false, d, err);
    if (rc == 0)
        rc = docx_part(src, z, &dx, "word/endnotes.xml", false, d, err);
    for (size_t i = 0; i < dx.n_styles; i++)
        free(dx.styles[i].id);
    free(dx.styles);
    return rc;
}

/* ---- PPTX ---- */

/* The text of one slide or notes part. notes: skip slide number, date, header, footer
 * placeholders. On a slide, the title placeholder becomes the heading. */
static int pptx_part(bp_zip *z, const char *name, bool notes, bp_doc *d, bp_err *err)
{
    bp_xml *x;
    int rc = bp_xml_open(&x, z, name, err), sp_depth = 0;
    bool title = false, skip = false, in_t = false;
    size_t sp_start = 0;
    xmlTextReaderPtr r;

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        if (type == T_START && strcmp(ln, "sp") == 0) {
            if (++sp_depth == 1) {
                title = skip = false;
                bp_text_break(&d->text);
                sp_start = bp_doc_here(d);
            }
        } else if (type == T_START && strcmp(ln, "ph") == 0 && sp_depth > 0) {
            char *v = bp_xml_attr(x, "type");
            if (v != NULL) {
                title = !notes && (strcmp(v, "title") == 0 || strcmp(v, "ctrTitle") == 0);
                skip = strcmp(v, "sldNum") == 0 || strcmp(v, "dt") == 0 || strcmp(v, "hdr") == 0 ||
                       strcmp(v, "ftr") == 0 || (notes && strcmp(v, "sldImg") == 0);
            }
            free(v);
        } else if (type == T_START && strcmp(ln, "t") == 0) {
            in_t = !xmlTextReaderIsEmptyElement(r);
        } else if (type == T_END && strcmp(ln, "t") == 0) {
            in_t = false;
        } else if ((type == T_END && (strcmp(ln, "p") == 0 || strcmp(ln, "tc") == 0)) ||
                   (type == T_START && strcmp(ln, "br") == 0)) {
            bp_text_break(&d->text);
        } else if (type == T_END && strcmp(ln, "sp") == 0 && sp_depth > 0) {
            if (--sp_depth == 0 && title && bp_doc_here(d) > sp_start)
                (void)bp_doc_heading_mark(d, sp_start, 1, d->text.buf + sp_start,
                                          d->text.len - sp_start);
        } else if (in_t && !skip && is_text_node(x)) {
            take_text(x, d);
        }
        if (d->text.oom)
            break;
    }
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;
}

static int pptx_extract(const bp_doc_src *src, bp_zip *z, bp_doc *d, bp_err *err)
{
    static const char pres[] = "ppt/presentation.xml";
    rels pr, sr;
    bp_xml *x;
    char **ids = NULL;
    size_t n_ids = 0;
    int rc;

    if (rels_read(z, pres, &pr, err) != 0)
        return -1;
    rc = bp_xml_open(&x, z, pres, err);
    if (rc != 0) {
        if (rc > 0)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "PPTX '%s': no %s part", src->name, pres);
        rels_free(&pr);
        return -1;
    }
    while ((rc = bp_xml_next(x, err)) == 1) {
        if (!bp_xml_is(x, T_START, "sldId"))
            continue;
        if (n_ids >= src->lim.max_pages) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "PPTX '%s' has more than %u slides, over the limit (handlers.max_pages)",
                       src->name, src->lim.max_pages);
            rc = -1;
            break;
        }
        char **ni = realloc(ids, (n_ids + 1) * sizeof(*ni));
        if (ni == NULL) {
            bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory listing slides");
            rc = -1;
            break;
        }
        ids = ni;
        ids[n_ids++] = bp_xml_attr_rel_id(x);
    }
    bp_xml_close(x);
    for (size_t i = 0; rc == 0 && i < n_ids; i++) {
        const char *slide = rels_target(&pr, ids[i]);
        uint32_t page;
        size_t start;
        if (slide == NULL)
            continue; /* a dangling id: PowerPoint skips it too */
        if (bp_doc_new_page(src, d, err) != 0) {
            rc = -1;
            break;
        }
        page = (uint32_t)d->n_pages;
        start = bp_doc_here(d);
        rc = pptx_part(z, slide, false, d, err);
        if (rc == 0 && rels_read(z, slide, &sr, err) == 0) {
            const char *notes = rels_by_type(&sr, "/notesSlide");
            if (notes != NULL)
                rc = pptx_part(z, notes, true, d, err);
            rels_free(&sr);
        } else {
            rc = -1;
        }
        if (rc == 0 && bp_doc_here(d) == start)
            (void)bp_doc_page_empty(d, page);
        bp_doc_progress(src, (unsigned)(i + 1), (unsigned)n_ids);
    }
    for (size_t i = 0; i < n_ids; i++)
        free(ids[i]);
    free(ids);
    rels_free(&pr);
    return rc < 0 ? -1 : 0;
}

/* ---- XLSX ---- */

typedef struct sst {
    sbuf all;    /* every string, NUL-separated */
    size_t *off; /* offset of string i in all.b */
    size_t n;    /* strings */
} sst;

static int xlsx_sst(const bp_doc_src *src, bp_zip *z, const char *name, sst *s, bp_err *err)
{
    bp_xml *x;
    int rc = bp_xml_open(&x, z, name, err), in_t = 0, in_rph = 0;
    size_t cap = 0;
    xmlTextReaderPtr r;

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        if (type == T_START && strcmp(ln, "si") == 0) {
            if (s->n == cap) {
                size_t *no = realloc(s->off, (cap = cap ? cap * 2 : 256) * sizeof(*no));
                if (no == NULL)
                    goto out_oom;
                s->off = no;
            }
            s->off[s->n++] = s->all.len;
        } else if (type == T_END && strcmp(ln, "si") == 0) {
            if (sb_add(&s->all, "", 1) != 0) /* the NUL separator */
                goto out_oom;
        } else if (strcmp(ln, "rPh") == 0 && !xmlTextReaderIsEmptyElement(r)) {
            in_rph = type == T_START; /* phonetic guide: not the cell's text */
        } else if (strcmp(ln, "t") == 0 && !xmlTextReaderIsEmptyElement(r)) {
            in_t = type == T_START;
        } else if (in_t && !in_rph && s->n > 0 && is_text_node(x)) {
            const xmlChar *v = xmlTextReaderConstValue(r);
            if (v != NULL && sb_add(&s->all, (const char *)v, strlen((const char *)v)) != 0)
                goto out_oom;
            if (s->all.len > src->lim.max_output_bytes) {
                bp_err_set(err, BP_ERR_PROTOCOL, 0,
                           "XLSX '%s': shared strings pass %llu bytes, over the limit "
                           "(handlers.max_text_bytes)",
                           src->name, (unsigned long long)src->lim.max_output_bytes);
                rc = -1;
                break;
            }
        }
    }
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;

out_oom:
    bp_xml_close(x);
    bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading shared strings");
    return -1;
}

static int xlsx_sheet(bp_zip *z, const char *name, const sst *s, bp_doc *d, bp_err *err)
{
    bp_xml *x;
    int rc = bp_xml_open(&x, z, name, err), in_v = 0;
    char *ctype = NULL;
    sbuf v = {0};
    xmlTextReaderPtr r;

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        if (type == T_START && strcmp(ln, "c") == 0) {
            free(ctype);
            ctype = bp_xml_attr(x, "t");
            v.len = 0;
            if (v.b != NULL)
                v.b[0] = '\0';
        } else if ((strcmp(ln, "v") == 0 || strcmp(ln, "t") == 0) &&
                   !xmlTextReaderIsEmptyElement(r)) {
            in_v = type == T_START;
        } else if (in_v && is_text_node(x)) {
            const xmlChar *t = xmlTextReaderConstValue(r);
            if (t != NULL && sb_add(&v, (const char *)t, strlen((const char *)t)) != 0) {
                bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading a cell");
                rc = -1;
                break;
            }
        } else if (type == T_END && strcmp(ln, "c") == 0) {
            if (ctype != NULL && strcmp(ctype, "s") == 0 && v.len > 0) {
                char *end;
                unsigned long i = strtoul(v.b, &end, 10);
                if (*end == '\0' && i < s->n)
                    bp_text_append(&d->text, s->all.b + s->off[i], strlen(s->all.b + s->off[i]));
            } else if (ctype != NULL && strcmp(ctype, "b") == 0 && v.len > 0) {
                bp_text_append(&d->text, v.b[0] == '1' ? "TRUE" : "FALSE", v.b[0] == '1' ? 4 : 5);
            } else if (v.len > 0) {
                bp_text_append(&d->text, v.b, v.len);
            }
            bp_text_break(&d->text);
        } else if (type == T_END && strcmp(ln, "row") == 0) {
            bp_text_break(&d->text);
        }
        if (d->text.oom)
            break;
    }
    free(ctype);
    free(v.b);
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;
}

static int xlsx_extract(const bp_doc_src *src, bp_zip *z, bp_doc *d, bp_err *err)
{
    static const char wb[] = "xl/workbook.xml";
    rels wr;
    bp_xml *x;
    sst s = {0};
    struct {
        char *name, *id;
    } *sheets = NULL;
    size_t n = 0;
    int rc;

    if (rels_read(z, wb, &wr, err) != 0)
        return -1;
    rc = bp_xml_open(&x, z, wb, err);
    if (rc != 0) {
        if (rc > 0)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "XLSX '%s': no %s part", src->name, wb);
        rels_free(&wr);
        return -1;
    }
    while ((rc = bp_xml_next(x, err)) == 1) {
        if (!bp_xml_is(x, T_START, "sheet"))
            continue;
        if (n >= src->lim.max_pages) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "XLSX '%s' has more than %u sheets, over the limit (handlers.max_pages)",
                       src->name, src->lim.max_pages);
            rc = -1;
            break;
        }
        void *ns = realloc(sheets, (n + 1) * sizeof(*sheets));
        if (ns == NULL) {
            bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory listing sheets");
            rc = -1;
            break;
        }
        sheets = ns;
        sheets[n].name = bp_xml_attr(x, "name");
        sheets[n++].id = bp_xml_attr_rel_id(x);
    }
    bp_xml_close(x);
    if (rc == 0) {
        const char *sst_name = rels_by_type(&wr, "/sharedStrings");
        rc = xlsx_sst(src, z, sst_name != NULL ? sst_name : "xl/sharedStrings.xml", &s, err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *part = rels_target(&wr, sheets[i].id);
        size_t start;
        if (part == NULL)
            continue;
        if (bp_doc_new_page(src, d, err) != 0) {
            rc = -1;
            break;
        }
        start = bp_doc_here(d);
        if (sheets[i].name != NULL) { /* the sheet's name opens its page and heads it */
            bp_text_append(&d->text, sheets[i].name, strlen(sheets[i].name));
            (void)bp_doc_heading_mark(d, start, 1, sheets[i].name, strlen(sheets[i].name));
            bp_text_break(&d->text);
        }
        rc = xlsx_sheet(z, part, &s, d, err);
        bp_doc_progress(src, (unsigned)(i + 1), (unsigned)n);
    }
    for (size_t i = 0; i < n; i++) {
        free(sheets[i].name);
        free(sheets[i].id);
    }
    free(sheets);
    free(s.all.b);
    free(s.off);
    rels_free(&wr);
    return rc < 0 ? -1 : 0;
}

int bp_doc_ooxml_extract(const bp_doc_src *src, bp_doc *d, bp_err *err)
{
    bp_zip *z;
    int rc;

    if (bp_zip_open(&z, src, d->format, err) != 0)
        return -1;
    rc = core_props(z, d, err);
    if (rc == 0) {
        if (d->format == BP_FMT_DOCX)
            rc = docx_extract(src, z, d, err);
        else if (d->format == BP_FMT_PPTX)
            rc = pptx_extract(src, z, d, err);
        else
            rc = xlsx_extract(src, z, d, err);
    }
    bp_zip_close(z);
    return rc;
}
