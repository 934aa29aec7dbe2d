/* bp_rtf.c -- the text of an RTF document: a single-pass tokenizer, no library.
 *
 * Groups are tracked on a bounded stack (lim.max_depth: RTF nests with braces, and a file
 * of a million '{' must not recurse or allocate per level). Destinations that are not body
 * text are skipped: font, colour and style tables, pictures, objects, headers and footers,
 * field instructions (the field's result is kept), list tables, anything marked \*.
 * \info's \title and \author become the document's title and author. Characters: \'hh
 * bytes in the document's \ansicpg code page (windows-1252 by default) converted with
 * iconv, \uN Unicode escapes with their \ucN fallback characters skipped. \par, \line,
 * \tab, \cell, \row and \sect separate words; \page starts a new page; \outlinelevelN
 * makes the paragraph a heading of level N+1. */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "bp_doc_int.h"

enum { DEST_BODY, DEST_SKIP, DEST_TITLE, DEST_AUTHOR };

typedef struct rtf_group {
    unsigned char dest; /* DEST_* */
    unsigned char uc;   /* fallback characters after \uN */
} rtf_group;

typedef struct rtf {
    const bp_doc_src *src; /* input and limits */
    bp_doc *d;             /* output */
    rtf_group *stack;      /* groups, lim.max_depth entries */
    int depth;             /* current group */
    char cp[16];           /* code page name for iconv, "CP1252" */
    iconv_t cd;            /* cp -> UTF-8, (iconv_t)-1 until needed */
    char pend[256];        /* \'hh bytes waiting for conversion */
    size_t n_pend;         /* bytes in pend */
    int skip_chars;        /* fallback characters still to skip after \uN */
    int outline;           /* heading level of the paragraph, 0 none */
    size_t para_start;     /* where the paragraph's words start */
    char meta[1024];       /* title/author being read */
    size_t n_meta;         /* bytes in meta */
} rtf;

static void emit(rtf *r, const char *s, size_t n)
{
    unsigned char dest = r->stack[r->depth].dest;

    if (dest == DEST_BODY) {
        bp_text_append(&r->d->text, s, n);
    } else if (dest == DEST_TITLE || dest == DEST_AUTHOR) {
        size_t room = sizeof(r->meta) - r->n_meta;
        if (n > room)
            n = room;
        memcpy(r->meta + r->n_meta, s, n);
        r->n_meta += n;
    }
}

static void flush(rtf *r)
{
    char out[sizeof(r->pend) * 4];
    char *ip = r->pend, *op = out;
    size_t il = r->n_pend, ol = sizeof(out);

    if (r->n_pend == 0)
        return;
    if (r->cd == (iconv_t)-1)
        r->cd = iconv_open("UTF-8", r->cp);
    if (r->cd == (iconv_t)-1)
        r->cd = iconv_open("UTF-8", "CP1252");
    if (r->cd != (iconv_t)-1) {
        while (il > 0) {
            if (iconv(r->cd, &ip, &il, &op, &ol) == (size_t)-1) {
                if (errno == E2BIG)
                    break;
                ip++; /* a byte the code page lacks: dropped */
                il--;
            }
        }
        emit(r, out, (size_t)(op - out));
    }
    r->n_pend = 0;
}

static void put_cp(rtf *r, long cp)
{
    char u[4];
    size_t n;

    if (cp < 0)
        cp += 65536; /* RTF writes code points above 32767 as negative 16-bit values */
    if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0xFFFF)
        return; /* surrogate halves: dropped rather than emitted as invalid UTF-8 */
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    }
    emit(r, u, n);
}

static void end_para(rtf *r)
{
    flush(r);
    if (r->outline > 0 && bp_doc_here(r->d) > r->para_start)
        (void)bp_doc_heading_mark(r->d, r->para_start, r->outline, r->d->text.buf + r->para_start,
                                  r->d->text.len - r->para_start);
    bp_text_break(&r->d->text);
    r->outline = 0;
    r->para_start = bp_doc_here(r->d);
}

static bool skip_dest(const char *w)
{
    static const char *const names[] = {"fonttbl",
                                        "colortbl",
                                        "stylesheet",
                                        "pict",
                                        "object",
                                        "header",
                                        "footer",
                                        "headerl",
                                        "headerr",
                                        "headerf",
                                        "footerl",
                                        "footerr",
                                        "footerf",
                                        "fldinst",
                                        "listtable",
                                        "listoverridetable",
                                        "rsidtbl",
                                        "generator",
                                        "xmlnstbl",
                                        "themedata",
                                        "colorschememapping",
                                        "datastore",
                                        "latentstyles",
                                        "info",
                                        "bkmkstart",
                                        "bkmkend",
                                        "filetbl",
                                        "revtbl",
                                        "pgdsctbl",
                                        "operator",
                                        "company",
                                        "subject",
                                        "keywords",
                                        "comment",
                                        "doccomm"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(w, names[i]) == 0)
            return true;
    return false;
}

/* One control word with its optional numeric parameter. */
static int control(rtf *r, const char *w, bool has_num, long num, bp_err *err)
{
    rtf_group *g = &r->stack[r->depth];

    if (strcmp(w, "par") == 0 || strcmp(w, "sect") == 0) {
        end_para(r);
    } else if (strcmp(w, "page") == 0) {
        end_para(r);
        if (g->dest == DEST_BODY && bp_doc_new_page(r->src, r->d, err) != 0)
            return -1;
        r->para_start = bp_doc_here(r->d);
    } else if (strcmp(w, "line") == 0 || strcmp(w, "tab") == 0 || strcmp(w, "cell") == 0 ||
               strcmp(w, "row") == 0 || strcmp(w, "emspace") == 0 || strcmp(w, "enspace") == 0) {
        flush(r);
        if (g->dest == DEST_BODY)
            bp_text_break(&r->d->text);
    } else if (strcmp(w, "u") == 0 && has_num) {
        flush(r);
        put_cp(r, num);
        r->skip_chars = g->uc;
    } else if (strcmp(w, "uc") == 0 && has_num) {
        g->uc = (unsigned char)(num < 0 ? 0 : num > 8 ? 8 : num);
    } else if (strcmp(w, "ansicpg") == 0 && has_num && num > 0 && num < 100000) {
        snprintf(r->cp, sizeof(r->cp), "CP%ld", num);
        if (r->cd != (iconv_t)-1) {
            iconv_close(r->cd);
            r->cd = (iconv_t)-1;
        }
    } else if (strcmp(w, "outlinelevel") == 0 && has_num && num >= 0 && num < 9) {
        r->outline = (int)num + 1;
    } else if (strcmp(w, "pard") == 0) {
        r->outline = 0;
    } else if (strcmp(w, "title") == 0 || strcmp(w, "author") == 0) {
        flush(r);
        g->dest = w[0] == 't' ? DEST_TITLE : DEST_AUTHOR;
        r->n_meta = 0;
    } else if (strcmp(w, "footnote") == 0) {
        flush(r);
        g->dest = DEST_BODY; /* a footnote is text, read where it is cited, despite its \* */
        bp_text_break(&r->d->text);
    } else if (skip_dest(w)) {
        g->dest = DEST_SKIP; /* \info's \title and \author groups reopen theirs */
    } else if (strcmp(w, "emdash") == 0) {
        emit(r, "\xE2\x80\x94", 3);
    } else if (strcmp(w, "endash") == 0) {
        emit(r, "\xE2\x80\x93", 3);
    } else if (strcmp(w, "bullet") == 0) {
        emit(r, "\xE2\x80\xA2", 3);
    } else if (strcmp(w, "lquote") == 0 || strcmp(w, "rquote") == 0) {
        emit(r, w[0] == 'l' ? "\xE2\x80\x98" : "\xE2\x80\x99", 3);
    } else if (strcmp(w, "ldblquote") == 0 || strcmp(w, "rdblquote") == 0) {
        emit(r, w[0] == 'l' ? "\xE2\x80\x9C" : "\xE2\x80\x9D", 3);
    }
    return 0;
}

int bp_doc_rtf_extract(const bp_doc_src *src, bp_doc *d, bp_err *err)
{
    const unsigned char *s = (const unsigned char *)src->in;
    size_t n = src->n, i = 0;
    rtf r = {.src = src, .d = d, .cd = (iconv_t)-1, .cp = "CP1252"};
    int rc = 0;

    r.stack = calloc((size_t)src->lim.max_depth + 1, sizeof(r.stack[0]));
    if (r.stack == NULL) {
        d->text.oom = true;
        return 0;
    }
    r.stack[0].uc = 1;
    if (bp_doc_new_page(src, d, err) != 0) {
        free(r.stack);
        return -1;
    }
    while (i < n && rc == 0 && !d->text.oom) {
        unsigned char c = s[i];
        if (c == '{') {
            flush(&r);
            if (r.depth >= (int)src->lim.max_depth) {
                bp_err_set(err, BP_ERR_PROTOCOL, 0,
                           "RTF '%s' nests groups deeper than %u at byte %zu "
                           "(handlers.max_xml_depth)",
                           src->name, src->lim.max_depth, i);
                rc = -1;
                break;
            }
            r.stack[r.depth + 1] = r.stack[r.depth];
            r.depth++;
            i++;
        } else if (c == '}') {
            flush(&r);
            unsigned char dest = r.stack[r.depth].dest;
            if ((dest == DEST_TITLE || dest == DEST_AUTHOR) &&
                (r.depth == 0 || r.stack[r.depth - 1].dest != dest)) {
                (void)bp_doc_set_string(dest == DEST_TITLE ? &d->title : &d->author, r.meta,
                                        r.n_meta);
                r.n_meta = 0;
            }
            if (r.depth > 0)
                r.depth--;
            i++;
        } else if (c == '\\') {
            i++;
            if (i >= n)
                break;
            c = s[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                char w[33];
                size_t wl = 0;
                bool has_num = false, neg = false;
                long num = 0;
                while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) {
                    if (wl < sizeof(w) - 1)
                        w[wl++] = (char)s[i];
                    i++;
                }
                w[wl] = '\0';
                if (i < n && s[i] == '-') {
                    neg = true;
                    i++;
                }
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (num < 100000000)
                        num = num * 10 + (s[i] - '0');
                    has_num = true;
                    i++;
                }
                if (neg)
                    num = -num;
                if (i < n && s[i] == ' ')
                    i++; /* the delimiter space belongs to the control word */
                if (strcmp(w, "bin") == 0 && has_num && num > 0) {
                    i += (size_t)num < n - i ? (size_t)num : n - i; /* binary data */
                    continue;
                }
                if (strcmp(w, "u") != 0)
                    flush(&r);
                rc = control(&r, w, has_num, num, err);
            } else if (c == '\'' && i + 2 < n) {
                char hex[3] = {(char)s[i + 1], (char)s[i + 2], '\0'}, *end;
                long v = strtol(hex, &end, 16);
                i += 3;
                if (r.skip_chars > 0) {
                    r.skip_chars--;
                    continue;
                }
                if (*end == '\0' && r.stack[r.depth].dest != DEST_SKIP) {
                    if (r.n_pend == sizeof(r.pend))
                        flush(&r);
                    r.pend[r.n_pend++] = (char)v;
                }
            } else if (c == '*') {
                r.stack[r.depth].dest = DEST_SKIP;
                i++;
            } else if (c == '~') {
                emit(&r, "\xC2\xA0", 2);
                i++;
            } else if (c == '\n' || c == '\r') {
                end_para(&r);
                i++;
            } else {
                if (c == '\\' || c == '{' || c == '}') {
                    flush(&r);
                    emit(&r, (const char *)&s[i], 1);
                }
                i++;
            }
        } else if (c == '\r' || c == '\n') {
            i++;
        } else {
            size_t run = i;
            while (run < n && s[run] != '\\' && s[run] != '{' && s[run] != '}' && s[run] != '\r' &&
                   s[run] != '\n')
                run++;
            while (r.skip_chars > 0 && i < run) {
                r.skip_chars--;
                i++;
            }
            if (run > i && r.stack[r.depth].dest != DEST_SKIP) {
                for (size_t k = i; k < run;) { /* 8-bit bytes are code page text too */
                    if (s[k] >= 0x80) {
                        if (r.n_pend == sizeof(r.pend))
                            flush(&r);
                        r.pend[r.n_pend++] = (char)s[k++];
                        continue;
                    }
                    size_t a = k;
                    while (a < run && s[a] < 0x80)
                        a++;
                    flush(&r);
                    emit(&r, (const char *)&s[k], a - k);
                    k = a;
                }
            }
            i = run;
        }
    }
    if (rc == 0)
        end_para(&r);
    if (r.cd != (iconv_t)-1)
        iconv_close(r.cd);
    free(r.stack);
    bp_doc_progress(src, 1, 1);
    return rc;
}
