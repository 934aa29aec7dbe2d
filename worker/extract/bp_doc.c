/* bp_doc.c -- the extraction entry points: limits, format names, detection from content,
 * dispatch to one extractor per family, and the page and heading marks they leave.
 *
 * Detection reads content only: "%PDF-" near the start, a zip whose mimetype entry
 * (OpenDocument, EPUB) or [Content_Types].xml (Office Open XML) names the format, "{\rtf",
 * an HTML start tag; everything else is text in some encoding (bp_doc_text.c decides
 * which). The file name is consulted for one thing only: Markdown looks like plain text.
 *
 * After the extractor returns, the marks are made consistent with the text: a mark taken
 * where the next word would start but left past the last word is clamped to text.len, so
 * every mark is 0, text.len or the byte after a space (what bp_doc_decode() checks). */
#include "bp_doc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bp_doc_int.h"

#define BP_DOC_TITLE_MAX 1000 /* bytes kept of a title, author or heading */

static const struct {
    const char *name;  /* job "type" and result "format" */
    const char *label; /* in messages */
    const char *unit;  /* what a page is */
} formats[BP_FMT_COUNT_] = {
    [BP_FMT_UNKNOWN] = {"unknown", "unknown format", "page"},
    [BP_FMT_TEXT] = {"text", "text", "page"},
    [BP_FMT_MARKDOWN] = {"markdown", "Markdown", "page"},
    [BP_FMT_HTML] = {"html", "HTML", "page"},
    [BP_FMT_PDF] = {"pdf", "PDF", "page"},
    [BP_FMT_DOCX] = {"docx", "DOCX", "page"},
    [BP_FMT_PPTX] = {"pptx", "PPTX", "slide"},
    [BP_FMT_XLSX] = {"xlsx", "XLSX", "sheet"},
    [BP_FMT_ODT] = {"odt", "ODT", "page"},
    [BP_FMT_ODP] = {"odp", "ODP", "slide"},
    [BP_FMT_ODS] = {"ods", "ODS", "sheet"},
    [BP_FMT_EPUB] = {"epub", "EPUB", "chapter"},
    [BP_FMT_RTF] = {"rtf", "RTF", "page"},
};

int bp_doc_format_parse(const char *name, bp_doc_format *out)
{
    for (int f = BP_FMT_TEXT; f < BP_FMT_COUNT_; f++) {
        if (strcasecmp(name, formats[f].name) == 0) {
            *out = (bp_doc_format)f;
            return 0;
        }
    }
    return -1;
}

const char *bp_doc_format_name(bp_doc_format f)
{
    return f > BP_FMT_UNKNOWN && f < BP_FMT_COUNT_ ? formats[f].name : "unknown";
}

const char *bp_doc_format_label(bp_doc_format f)
{
    return f > BP_FMT_UNKNOWN && f < BP_FMT_COUNT_ ? formats[f].label : "unknown format";
}

const char *bp_doc_page_unit(bp_doc_format f)
{
    return f > BP_FMT_UNKNOWN && f < BP_FMT_COUNT_ ? formats[f].unit : "page";
}

bp_doc_limits bp_doc_limits_resolve(const bp_doc_limits *lim)
{
    bp_doc_limits l = {0};

    if (lim != NULL)
        l = *lim;
    if (l.max_input_bytes == 0)
        l.max_input_bytes = BP_DOC_DEFAULT_MAX_INPUT;
    if (l.max_output_bytes == 0)
        l.max_output_bytes = BP_DOC_DEFAULT_MAX_OUTPUT;
    if (l.max_pages == 0)
        l.max_pages = BP_DOC_DEFAULT_MAX_PAGES;
    if (l.max_zip_entries == 0)
        l.max_zip_entries = BP_DOC_DEFAULT_ZIP_ENTRIES;
    if (l.max_zip_ratio == 0)
        l.max_zip_ratio = BP_DOC_DEFAULT_ZIP_RATIO;
    if (l.max_zip_bytes == 0)
        l.max_zip_bytes = BP_DOC_DEFAULT_ZIP_BYTES;
    if (l.max_depth == 0)
        l.max_depth = BP_DOC_DEFAULT_DEPTH;
    if (l.max_marks == 0)
        l.max_marks = BP_DOC_DEFAULT_MARKS;
    return l;
}

size_t bp_doc_here(const bp_doc *d)
{
    return bp_text_here(&d->text);
}

/* Grow *arr (of elem-sized entries, *cap allocated) to hold one more than n. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *na = realloc(*arr, nc * elem);
    if (na == NULL)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

int bp_doc_page_mark(bp_doc *d)
{
    bp_text_break(&d->text);
    if (grow((void **)&d->pages, &d->cap_pages_, d->n_pages, sizeof(d->pages[0])) != 0) {
        d->text.oom = true;
        return -1;
    }
    d->pages[d->n_pages++] = bp_doc_here(d);
    return 0;
}

int bp_doc_page_empty(bp_doc *d, uint32_t page_no)
{
    if (grow((void **)&d->empty_pages, &d->cap_empty_, d->n_empty, sizeof(d->empty_pages[0])) !=
        0) {
        d->text.oom = true;
        return -1;
    }
    d->empty_pages[d->n_empty++] = page_no;
    return 0;
}

int bp_doc_set_string(char **dst, const char *s, size_t n)
{
    bp_text t;
    size_t valid = 0;

    free(*dst);
    *dst = NULL;
    if (n > 4 * BP_DOC_TITLE_MAX)
        n = 4 * BP_DOC_TITLE_MAX;
    if (bp_text_init(&t, n) != 0)
        return -1;
    while (valid < n) { /* keep the valid runs, drop stray bytes */
        size_t ok = bp_utf8_check((const unsigned char *)s + valid, n - valid);
        bp_text_append(&t, s + valid, ok);
        valid += ok;
        if (valid < n) {
            bp_text_break(&t);
            valid++;
        }
    }
    if (t.oom) {
        bp_text_free(&t);
        return -1;
    }
    if (t.len > BP_DOC_TITLE_MAX) {
        size_t cut = BP_DOC_TITLE_MAX;
        while (cut > 0 && ((unsigned char)t.buf[cut] & 0xC0) == 0x80)
            cut--;
        while (cut > 0 && t.buf[cut - 1] == ' ')
            cut--;
        t.buf[cut] = '\0';
        t.len = cut;
    }
    if (t.len == 0) {
        bp_text_free(&t);
        return 0;
    }
    *dst = t.buf;
    return 0;
}

int bp_doc_heading_mark(bp_doc *d, size_t off, int level, const char *title, size_t n)
{
    char *copy = NULL;

    if (d->n_headings >= (d->max_headings_ > 0 ? d->max_headings_ : BP_DOC_DEFAULT_MARKS))
        return 0; /* dropped, not refused: headings only label chunks */
    if (bp_doc_set_string(&copy, title, n) != 0)
        goto out_oom;
    if (copy == NULL)
        return 0; /* a heading without words labels nothing */
    if (grow((void **)&d->headings, &d->cap_headings_, d->n_headings, sizeof(d->headings[0])) != 0)
        goto out_oom;
    if (d->n_headings > 0 && off < d->headings[d->n_headings - 1].off)
        off = d->headings[d->n_headings - 1].off; /* keep them in text order */
    d->headings[d->n_headings].off = off;
    d->headings[d->n_headings].level = (uint8_t)(level < 1 ? 1 : level > 9 ? 9 : level);
    d->headings[d->n_headings].title = copy;
    d->n_headings++;
    return 0;

out_oom:
    free(copy);
    d->text.oom = true;
    return -1;
}

void bp_doc_free(bp_doc *d)
{
    if (d == NULL)
        return;
    bp_text_free(&d->text);
    free(d->title);
    free(d->author);
    free(d->pages);
    free(d->empty_pages);
    for (size_t i = 0; i < d->n_headings; i++)
        free(d->headings[i].title);
    free(d->headings);
    memset(d, 0, sizeof(*d));
}

void bp_doc_progress(const bp_doc_src *src, unsigned done, unsigned total)
{
    if (src->progress != NULL)
        src->progress(src->arg, done, total);
}

int bp_doc_new_page(const bp_doc_src *src, bp_doc *d, bp_err *err)
{
    if (d->n_pages >= src->lim.max_pages) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s has more than %u %ss, over the limit (handlers.max_pages)",
                   bp_doc_format_label(d->format), src->lim.max_pages, bp_doc_page_unit(d->format));
        return -1;
    }
    return bp_doc_page_mark(d);
}

/* Whether the text after optional white space and a BOM opens like an HTML document. */
static bool looks_html(const char *in, size_t n)
{
    size_t i = 0;

    if (n >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < n && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' || in[i] == '\n'))
        i++;
    if (i < n && in[i] == '<') {
        static const char *const starts[] = {"<!doctype html", "<html", "<head", "<body", "<!--"};
        for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
            size_t l = strlen(starts[k]);
            if (n - i >= l && strncasecmp(in + i, starts[k], l) == 0)
                return k < 4 || (n - i > 200 &&
                                 memmem(in + i, 1024 < n - i ? 1024 : n - i, "<html", 5) != NULL);
        }
    }
    return false;
}

bool bp_doc_is_pdf(const char *in, size_t n)
{
    size_t head = n < BP_DOC_PDF_HEAD ? n : BP_DOC_PDF_HEAD;

    /* the header may follow some junk (the spec allows 1,024 bytes) */
    return head >= 5 && memmem(in, head, "%PDF-", 5) != NULL;
}

bp_doc_format bp_doc_detect(const char *in, size_t n)
{
    if (bp_doc_is_pdf(in, n))
        return BP_FMT_PDF;
    if (n >= 4 && memcmp(in, "PK\3\4", 4) == 0)
        return bp_doc_zip_detect(in, n);
    if (n >= 5 && memcmp(in, "{\\rtf", 5) == 0)
        return BP_FMT_RTF;
    if (looks_html(in, n))
        return BP_FMT_HTML;
    return BP_FMT_TEXT;
}

/* The type from the name's extension, for the text formats content cannot tell apart. */
static bp_doc_format by_extension(const char *name, bp_doc_format detected)
{
    const char *slash, *dot;

    if (name == NULL || detected != BP_FMT_TEXT)
        return detected;
    slash = strrchr(name, '/');
    dot = strrchr(slash != NULL ? slash : name, '.');
    if (dot != NULL && (strcasecmp(dot, ".md") == 0 || strcasecmp(dot, ".markdown") == 0))
        return BP_FMT_MARKDOWN;
    if (dot != NULL && (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0))
        return BP_FMT_HTML;
    return detected;
}

/* Clamp marks past the end and move any that landed inside a word to the next word start,
 * so the invariant bp_doc_decode() checks holds for every extractor. */
static void finish_marks(bp_doc *d)
{
    const char *b = d->text.buf;
    size_t len = d->text.len;

    for (size_t i = 0; i < d->n_pages; i++) {
        size_t o = d->pages[i];
        if (o > len)
            o = len;
        while (o > 0 && o < len && b[o - 1] != ' ')
            o++;
        if (i > 0 && o < d->pages[i - 1])
            o = d->pages[i - 1];
        d->pages[i] = o;
    }
    for (size_t i = 0; i < d->n_headings; i++) {
        size_t o = d->headings[i].off;
        if (o > len)
            o = len;
        while (o > 0 && o < len && b[o - 1] != ' ')
            o++;
        if (i > 0 && o < d->headings[i - 1].off)
            o = d->headings[i - 1].off;
        d->headings[i].off = o;
    }
}

static void on_heading(void *arg, int level, size_t start)
{
    bp_doc *d = arg;

    if (start < d->text.len)
        (void)bp_doc_heading_mark(d, start, level, d->text.buf + start, d->text.len - start);
}

/* Detect (or take the forced type), run the family's extractor, check what it left. */
static int extract_src(const bp_doc_src *s, const char *type_override, bp_doc *out, bp_err *err)
{
    bp_doc_src src = *s;
    const char *in = src.in, *name = src.name;
    size_t n = src.n;
    bp_doc d;
    int rc;

    memset(&d, 0, sizeof(d));
    memset(out, 0, sizeof(*out));
    if (n > src.lim.max_input_bytes) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "document is %zu bytes, over the limit of %llu (handlers.max_bytes)", n,
                   (unsigned long long)src.lim.max_input_bytes);
        return -1;
    }
    if (type_override != NULL && type_override[0] != '\0') {
        if (bp_doc_format_parse(type_override, &d.format) != 0) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "unknown document type '%s'; use one of text, markdown, html, pdf, docx, "
                       "pptx, xlsx, odt, odp, ods, epub, rtf",
                       type_override);
            return -1;
        }
    } else {
        d.format = by_extension(name, bp_doc_detect(in, n));
    }
    if (d.format == BP_FMT_UNKNOWN) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "zip container of an unsupported kind (no OpenDocument or EPUB mimetype, no "
                   "Office [Content_Types].xml); give \"type\" if it is one of ours");
        return -1;
    }
    size_t hint = n < (16u << 20) ? n : (16u << 20); /* the text grows as needed past this */
    if (bp_text_init(&d.text, hint) != 0)
        goto out_oom;
    d.text.limit = src.lim.max_output_bytes;
    d.max_headings_ = src.lim.max_marks;
    d.text.heading = on_heading;
    d.text.heading_arg = &d;
    switch (d.format) {
    case BP_FMT_PDF:
        rc = bp_doc_pdf_extract(&src, &d, err);
        break;
    case BP_FMT_DOCX:
    case BP_FMT_PPTX:
    case BP_FMT_XLSX:
        rc = bp_doc_ooxml_extract(&src, &d, err);
        break;
    case BP_FMT_ODT:
    case BP_FMT_ODP:
    case BP_FMT_ODS:
        rc = bp_doc_odf_extract(&src, &d, err);
        break;
    case BP_FMT_EPUB:
        rc = bp_doc_epub_extract(&src, &d, err);
        break;
    case BP_FMT_RTF:
        rc = bp_doc_rtf_extract(&src, &d, err);
        break;
    default:
        rc = bp_doc_text_extract(&src, &d, err);
        break;
    }
    if (d.text.over) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s: extracted text passes %llu bytes, over the limit (handlers.max_text_bytes)",
                   bp_doc_format_label(d.format), (unsigned long long)src.lim.max_output_bytes);
        goto out_free;
    }
    if (d.text.oom)
        goto out_oom;
    if (rc != 0)
        goto out_free;
    d.text.heading = NULL;
    d.text.heading_arg = NULL;
    d.text.release = NULL;
    d.text.limit = 0;
    finish_marks(&d);
    *out = d;
    return 0;

out_oom:
    bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "%s: out of memory extracting a %zu-byte file",
               bp_doc_format_label(d.format), n);
out_free:
    bp_doc_free(&d);
    return -1;
}

int bp_doc_extract_mem(const char *in, size_t n, const char *name, const char *type_override,
                       const bp_doc_limits *lim, bp_doc_progress_fn progress, void *arg,
                       bp_doc *out, bp_err *err)
{
    bp_doc_src src = {.in = in,
                      .n = n,
                      .name = name != NULL ? name : "document",
                      .lim = bp_doc_limits_resolve(lim),
                      .progress = progress,
                      .arg = arg};

    return extract_src(&src, type_override, out, err);
}

/* The mapping of bp_doc_extract() and how much of it was dropped. */
typedef struct map_release {
    char *base;      /* the mapping */
    size_t released; /* bytes at its start given back with MADV_DONTNEED */
} map_release;

static void release_map(void *arg, const char *upto)
{
    map_release *m = arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t done = (size_t)(upto - m->base) / page * page;

    if (done > m->released) {
        (void)madvise(m->base + m->released, done - m->released, MADV_DONTNEED);
        m->released = done;
    }
}

int bp_doc_extract(int fd, const char *name, const char *type_override, const bp_doc_limits *lim,
                   bp_doc_progress_fn progress, void *arg, bp_doc *out, bp_err *err)
{
    bp_doc_limits l = bp_doc_limits_resolve(lim);
    struct stat st;
    void *map = NULL;
    map_release mr = {0};
    int rc;

    memset(out, 0, sizeof(*out));
    if (fstat(fd, &st) != 0) {
        bp_err_set(err, BP_ERR_IO, errno, "cannot stat the document: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        bp_err_set(err, BP_ERR_IO, 0, "the document is not a regular file");
        return -1;
    }
    if ((uint64_t)st.st_size > l.max_input_bytes) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "document is %lld bytes, over the limit of %llu (handlers.max_bytes)",
                   (long long)st.st_size, (unsigned long long)l.max_input_bytes);
        return -1;
    }
    if (st.st_size > 0) {
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            bp_err_set(err, BP_ERR_IO, errno, "cannot map the document: %s", strerror(errno));
            return -1;
        }
        (void)madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    }
    mr.base = map;
    bp_doc_src src = {.in = map != NULL ? map : "",
                      .n = (size_t)st.st_size,
                      .name = name != NULL ? name : "document",
                      .lim = l,
                      .progress = progress,
                      .arg = arg,
                      .release = map != NULL ? release_map : NULL,
                      .release_arg = &mr};
    rc = extract_src(&src, type_override, out, err);
    if (map != NULL)
        munmap(map, (size_t)st.st_size);
    return rc;
}
