/* bp_odf.c -- OpenDocument text, presentation and spreadsheet (ODT, ODP, ODS): content.xml
 * streamed in document order with libxml2's reader from the zip (bp_zip.c).
 *
 * Text nodes anywhere under office:body are the text, except inside a footnote's citation
 * mark, an annotation (comment) or tracked changes (deleted text). text:h carries its
 * outline level and becomes a heading; paragraphs, list items, table cells, tabs, line
 * breaks and text:s separate words. Footnote and endnote bodies stay where they are cited.
 * ODT pages start at text:soft-page-break, where the office suite last laid out a page.
 * ODP: each draw:page is a slide (a page), its title frame the slide's heading, its
 * speaker notes (presentation:notes) part of the slide. ODS: each table:table is a sheet
 * (a page) headed by its name; repeated cells are read once (a repeat count is not text).
 * Title and author come from meta.xml. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bp_doc_int.h"

#define T_START 1  /* XML_READER_TYPE_ELEMENT */
#define T_END   15 /* XML_READER_TYPE_END_ELEMENT */

static bool is_text(int type)
{
    return type == XML_READER_TYPE_TEXT || type == XML_READER_TYPE_SIGNIFICANT_WHITESPACE ||
           type == XML_READER_TYPE_CDATA;
}

static int odf_meta(bp_zip *z, bp_doc *d, bp_err *err)
{
    bp_xml *x;
    int rc = bp_xml_open(&x, z, "meta.xml", err), which = 0;
    xmlTextReaderPtr r;

    if (rc != 0)
        return rc > 0 ? 0 : -1;
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        if (type == T_START)
            which = strcmp(ln, "title") == 0                                           ? 1
                    : strcmp(ln, "creator") == 0 || strcmp(ln, "initial-creator") == 0 ? 2
                                                                                       : 0;
        else if (type == T_END)
            which = 0;
        else if (which != 0 && is_text(type)) {
            const char *v = (const char *)xmlTextReaderConstValue(r);
            char **dst = which == 1 ? &d->title : &d->author;
            if (v != NULL && *dst == NULL && bp_doc_set_string(dst, v, strlen(v)) != 0) {
                bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading meta.xml");
                rc = -1;
                break;
            }
        }
    }
    bp_xml_close(x);
    return rc < 0 ? -1 : 0;
}

/* Elements whose text is not the document's: citation marks, comments, deleted text. */
static bool skipped(const char *ln)
{
    return strcmp(ln, "note-citation") == 0 || strcmp(ln, "annotation") == 0 ||
           strcmp(ln, "tracked-changes") == 0;
}

/* Elements that end a word. */
static bool breaks(const char *ln)
{
    static const char *const names[] = {"p",         "h",     "list-item",  "table-cell",
                                        "table-row", "tab",   "line-break", "s",
                                        "note-body", "frame", "notes",      "soft-page-break"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(ln, names[i]) == 0)
            return true;
    return false;
}

int bp_doc_odf_extract(const bp_doc_src *src, bp_doc *d, bp_err *err)
{
    bp_zip *z;
    bp_xml *x = NULL;
    xmlTextReaderPtr r;
    int rc, skip = 0, h_level = 0, h_depth = -1, title_depth = -1;
    size_t h_start = 0, page_start = 0;
    bool in_body = false, paged = d->format != BP_FMT_ODT;

    if (bp_zip_open(&z, src, d->format, err) != 0)
        return -1;
    rc = odf_meta(z, d, err);
    if (rc == 0) {
        rc = bp_xml_open(&x, z, "content.xml", err);
        if (rc > 0)
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s '%s': no content.xml part",
                       bp_doc_format_label(d->format), src->name);
    }
    if (rc != 0) {
        bp_zip_close(z);
        return -1;
    }
    if (!paged && bp_doc_new_page(src, d, err) != 0) {
        rc = -1;
        goto out_close;
    }
    r = bp_xml_reader(x);
    while ((rc = bp_xml_next(x, err)) == 1) {
        int type = xmlTextReaderNodeType(r), depth = xmlTextReaderDepth(r);
        const char *ln = (const char *)xmlTextReaderConstLocalName(r);
        bool empty = type == T_START && xmlTextReaderIsEmptyElement(r);

        if (type == T_START) {
            if (strcmp(ln, "body") == 0)
                in_body = true;
            if (!in_body)
                continue;
            if (skipped(ln) && !empty)
                skip++;
            if (breaks(ln))
                bp_text_break(&d->text);
            if (skip == 0 && paged &&
                ((d->format == BP_FMT_ODP && strcmp(ln, "page") == 0) ||
                 (d->format == BP_FMT_ODS && strcmp(ln, "table") == 0 && depth == 3))) {
                uint32_t prev = (uint32_t)d->n_pages;
                if (prev > 0 && bp_doc_here(d) == page_start)
                    (void)bp_doc_page_empty(d, prev);
                if (bp_doc_new_page(src, d, err) != 0) {
                    rc = -1;
                    break;
                }
                page_start = bp_doc_here(d);
                bp_doc_progress(src, (unsigned)d->n_pages, 0);
                if (d->format == BP_FMT_ODS) {
                    char *name = bp_xml_attr(x, "name");
                    if (name != NULL) {
                        bp_text_append(&d->text, name, strlen(name));
                        (void)bp_doc_heading_mark(d, page_start, 1, name, strlen(name));
                        bp_text_break(&d->text);
                    }
                    free(name);
                }
            } else if (skip == 0 && !paged && strcmp(ln, "soft-page-break") == 0) {
                if (bp_doc_here(d) > page_start) { /* where the office suite last broke */
                    if (bp_doc_new_page(src, d, err) != 0) {
                        rc = -1;
                        break;
                    }
                    page_start = bp_doc_here(d);
                }
            } else if (skip == 0 && strcmp(ln, "h") == 0 && !empty && h_depth < 0) {
                char *lvl = bp_xml_attr(x, "outline-level");
                h_level = lvl != NULL ? atoi(lvl) : 1;
                free(lvl);
                h_depth = depth;
                h_start = bp_doc_here(d);
            } else if (skip == 0 && d->format == BP_FMT_ODP && strcmp(ln, "frame") == 0 && !empty &&
                       title_depth < 0) {
                char *cls = bp_xml_attr(x, "class");
                if (cls != NULL && strcmp(cls, "title") == 0) {
                    title_depth = depth;
                    h_start = bp_doc_here(d);
                }
                free(cls);
            }
        } else if (type == T_END) {
            if (!in_body)
                continue;
            if (skipped(ln) && skip > 0)
                skip--;
            if (breaks(ln))
                bp_text_break(&d->text);
            if (depth == h_depth && strcmp(ln, "h") == 0) {
                if (bp_doc_here(d) > h_start)
                    (void)bp_doc_heading_mark(d, h_start, h_level, d->text.buf + h_start,
                                              d->text.len - h_start);
                h_depth = -1;
            } else if (depth == title_depth && strcmp(ln, "frame") == 0) {
                if (bp_doc_here(d) > h_start)
                    (void)bp_doc_heading_mark(d, h_start, 1, d->text.buf + h_start,
                                              d->text.len - h_start);
                title_depth = -1;
            } else if (strcmp(ln, "body") == 0) {
                in_body = false;
            }
        } else if (in_body && skip == 0 && is_text(type)) {
            const char *v = (const char *)xmlTextReaderConstValue(r);
            if (v != NULL)
                bp_text_append(&d->text, v, strlen(v));
        }
        if (d->text.oom)
            break;
    }
    if (rc == 0 && paged && d->n_pages > 0 && bp_doc_here(d) == page_start)
        (void)bp_doc_page_empty(d, (uint32_t)d->n_pages);

out_close:
    bp_xml_close(x);
    bp_zip_close(z);
    return rc < 0 ? -1 : 0;
}
