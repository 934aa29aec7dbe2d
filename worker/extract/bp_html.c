/* bp_html.c -- visible text of an HTML document, through libxml2's HTML parser in SAX mode.
 *
 * The parser runs with HTML_PARSE_RECOVER|NOERROR|NOWARNING|NONET (broken markup is
 * repaired, nothing is printed, nothing is fetched) and its input is pinned to UTF-8, so a
 * <meta charset> cannot reinterpret bytes we already validated. SAX instead of
 * htmlReadMemory(): no tree is built, so a 50 MB page costs its text, not a DOM several
 * times its size, and the input is fed in slices so the parser never copies all of it.
 *
 * Text inside script, style, noscript, template, head and title is dropped (a depth
 * counter, since libxml2 reports an end for every start, auto-closed ones included). Block
 * elements and line breaks separate words; inline elements do not ("a<b>b</b>" is one
 * word). Entities arrive decoded in the characters callback. */
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/encoding.h>
#include <libxml/parserInternals.h>

#include "bp_extract.h"

#define BP_HTML_FEED_BYTES 65536 /* parser input slice: bounds its buffer, not its speed */

/* Elements whose content is not visible text. Sorted for bsearch(). */
static const char *const skip_tags[] = {"head", "noscript", "script", "style", "template", "title"};

/* Elements that separate words: block-level, table cells, line breaks, replaced elements.
 * Sorted for bsearch(). */
static const char *const break_tags[] = {
    "address", "area",    "article",  "aside",    "blockquote", "body",       "br",      "button",
    "canvas",  "caption", "center",   "col",      "dd",         "details",    "dialog",  "dir",
    "div",     "dl",      "dt",       "embed",    "fieldset",   "figcaption", "figure",  "footer",
    "form",    "frame",   "h1",       "h2",       "h3",         "h4",         "h5",      "h6",
    "header",  "hgroup",  "hr",       "html",     "iframe",     "img",        "input",   "legend",
    "li",      "main",    "menu",     "meter",    "nav",        "object",     "ol",      "optgroup",
    "option",  "p",       "pre",      "progress", "section",    "select",     "summary", "table",
    "tbody",   "td",      "textarea", "tfoot",    "th",         "thead",      "tr",      "ul",
    "video",   "wbr"};

typedef struct html_state {
    bp_text *t;         /* where visible text goes */
    int skipping;       /* depth inside skip_tags elements; text is dropped while > 0 */
    int heading;        /* level of the h1..h6 being read, 0 outside one */
    size_t heading_off; /* where its words start */
} html_state;

/* 1..6 for h1..h6, else 0. */
static int heading_level(const char *n)
{
    return (n[0] == 'h' || n[0] == 'H') && n[1] >= '1' && n[1] <= '6' && n[2] == '\0' ? n[1] - '0'
                                                                                      : 0;
}

static int cmp_tag(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

static bool tag_in(const char *name, const char *const *set, size_t n)
{
    return bsearch(name, set, n, sizeof(set[0]), cmp_tag) != NULL;
}

static void on_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
    html_state *st = ctx;
    const char *n = (const char *)name;

    (void)atts;
    if (tag_in(n, skip_tags, sizeof(skip_tags) / sizeof(skip_tags[0])))
        st->skipping++;
    else if (st->skipping == 0 && tag_in(n, break_tags, sizeof(break_tags) / sizeof(break_tags[0])))
        bp_text_break(st->t);
    if (st->skipping == 0 && heading_level(n) > 0 && st->heading == 0) {
        st->heading = heading_level(n);
        st->heading_off = bp_text_here(st->t);
    }
}

static void on_end(void *ctx, const xmlChar *name)
{
    html_state *st = ctx;
    const char *n = (const char *)name;

    if (tag_in(n, skip_tags, sizeof(skip_tags) / sizeof(skip_tags[0]))) {
        if (st->skipping > 0)
            st->skipping--;
    } else if (st->skipping == 0 &&
               tag_in(n, break_tags, sizeof(break_tags) / sizeof(break_tags[0]))) {
        bp_text_break(st->t);
    }
    if (st->heading > 0 && heading_level(n) == st->heading) {
        if (st->t->heading != NULL)
            st->t->heading(st->t->heading_arg, st->heading, st->heading_off);
        st->heading = 0;
    }
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
    html_state *st = ctx;

    if (st->skipping == 0 && len > 0)
        bp_text_append(st->t, (const char *)ch, (size_t)len);
}

static void on_blank(void *ctx, const xmlChar *ch, int len)
{
    html_state *st = ctx;

    (void)ch;
    (void)len;
    bp_text_break(st->t);
}

int bp_extract_html(const char *in, size_t n, bp_text *t)
{
    htmlSAXHandler sax;
    html_state st = {.t = t, .skipping = 0};
    htmlParserCtxtPtr ctxt;
    xmlCharEncodingHandlerPtr utf8;

    memset(&sax, 0, sizeof(sax));
    sax.startElement = on_start;
    sax.endElement = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text; /* raw text elements; script/style are skipped anyway */
    sax.ignorableWhitespace = on_blank;
    ctxt = htmlCreatePushParserCtxt(&sax, &st, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
    if (ctxt == NULL)
        return -1;
    htmlCtxtUseOptions(ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET);
    /* An explicit encoder makes libxml2 ignore <meta charset>, as htmlReadMemory() does
     * when given "UTF-8". */
    utf8 = xmlFindCharEncodingHandler("UTF-8");
    if (utf8 != NULL)
        xmlSwitchToEncoding(ctxt, utf8);
    for (size_t off = 0; off < n && !t->oom;) {
        size_t step = n - off < BP_HTML_FEED_BYTES ? n - off : BP_HTML_FEED_BYTES;
        htmlParseChunk(ctxt, in + off, (int)step, 0);
        off += step;
        if (t->release != NULL && off % BP_TEXT_RELEASE_BYTES < step)
            t->release(t->release_arg, in + off); /* the parser copied what it was fed */
    }
    htmlParseChunk(ctxt, NULL, 0, 1);
    htmlFreeParserCtxt(ctxt);
    return t->oom ? -1 : 0;
}
