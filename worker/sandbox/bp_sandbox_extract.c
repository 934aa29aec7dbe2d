/* bp_sandbox_extract.c -- the document extraction inside the sandbox's child.
 *
 * The child names the format before it parses (the job's type, or the content's magic:
 * bp_doc_detect), so that a crash can be told as "PDF parser killed by SIGSEGV on page 12";
 * forwards the extractors' progress (pages for paged formats; KiB for text, sent as bytes);
 * then writes bp_doc_encode()'s bytes. A refusal of the extractor (a zip bomb, too many
 * pages, an encrypted PDF) is a deterministic failure of the input: bp_sandbox_fail(), not
 * retried. An allocation that fails reads as out of memory, with the limit. */
#include "bp_sandbox_extract.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "bp_poppler.h"

#define BP_SBX_DETECT_HEAD                                       \
    (64 * 1024) /* bytes mapped to name the format of a file the \
                 * memory limit cannot map whole */

typedef struct child_progress {
    const bp_sandbox_task *t;
    bp_sandbox_unit unit; /* pages, or bytes (the extractor counts KiB) */
} child_progress;

static void child_progress_cb(void *arg, unsigned done, unsigned total)
{
    const child_progress *p = arg;
    uint64_t k = p->unit == BP_SANDBOX_UNIT_BYTES ? 1024 : 1;

    bp_sandbox_progress(p->t, (uint64_t)done * k, (uint64_t)total * k, p->unit);
}

/* The format the content shows (or the job forces), for messages before the parse. */
static bp_doc_format child_format(const bp_sandbox_task *t, const bp_sandbox_extract_arg *a)
{
    bp_doc_format f = BP_FMT_UNKNOWN;
    struct stat st;
    size_t len;
    void *map;

    if (a->type[0] != '\0' && bp_doc_format_parse(a->type, &f) == 0)
        return f;
    if (fstat(t->doc_fd, &st) != 0 || st.st_size <= 0)
        return BP_FMT_TEXT;
    len = (size_t)st.st_size;
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, t->doc_fd, 0);
    if (map == MAP_FAILED && len > BP_SBX_DETECT_HEAD) { /* over memory_mb: the head tells */
        len = BP_SBX_DETECT_HEAD;
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, t->doc_fd, 0);
    }
    if (map == MAP_FAILED)
        return BP_FMT_UNKNOWN;
    f = bp_doc_detect(map, len);
    munmap(map, len);
    return f;
}

static bool paged(bp_doc_format f)
{
    return f != BP_FMT_TEXT && f != BP_FMT_MARKDOWN && f != BP_FMT_HTML && f != BP_FMT_RTF &&
           f != BP_FMT_UNKNOWN;
}

/* What this extractor's init warmed up (bp_sandbox_extract_init): its children parse only that. */
static bool serves_pdf = true, serves_other = true;

static int child_extract(const bp_sandbox_task *t)
{
    bp_sandbox_extract_arg a;
    child_progress p = {.t = t};
    bp_doc_format f;
    bp_doc doc;
    bp_err err = {0};
    char *buf = NULL;
    size_t len = 0;

    if (t->arg_len != sizeof(a))
        bp_sandbox_fail(t, "internal: extraction request of %zu bytes, not %zu", t->arg_len,
                        sizeof(a));
    memcpy(&a, t->arg, sizeof(a));
    a.type[sizeof(a.type) - 1] = '\0';
    a.name[sizeof(a.name) - 1] = '\0';
    f = child_format(t, &a);
    /* a format it cannot name (the head could not be mapped) goes on to bp_doc_extract's
     * own refusal */
    if ((f == BP_FMT_PDF && !serves_pdf) ||
        (f != BP_FMT_PDF && f != BP_FMT_UNKNOWN && !serves_other))
        bp_sandbox_fail(t, "internal: a %s document reached the extractor that does not serve it",
                        bp_doc_format_label(f));
    bp_sandbox_format(t, f == BP_FMT_UNKNOWN ? "" : bp_doc_format_label(f));
    p.unit = paged(f) ? BP_SANDBOX_UNIT_PAGES : BP_SANDBOX_UNIT_BYTES;
    if (bp_doc_extract(t->doc_fd, a.name[0] != '\0' ? a.name : NULL,
                       a.type[0] != '\0' ? a.type : NULL, &a.lim, child_progress_cb, &p, &doc,
                       &err) != 0) {
        if (err.sys_errno == ENOMEM)
            bp_sandbox_fail_oom(t);
        if (err.kind == BP_ERR_CONFIG) /* this host lacks a library: not the input's fault */
            bp_sandbox_fail_host(t, "%s", err.msg);
        bp_sandbox_fail(t, "%s", err.msg);
    }
    if (bp_doc_encode(&doc, &buf, &len) != 0)
        bp_sandbox_fail_oom(t);
    if (bp_sandbox_write(t, buf, len) != 0)
        return 1; /* the worker stopped reading (output limit): it knows why */
    return 0;     /* no frees: the process ends now, its memory with it */
}

const bp_sandbox_fn_entry bp_sandbox_extract_fns[] = {
    [BP_SANDBOX_FN_EXTRACT] = {"extract", child_extract},
};
const size_t bp_sandbox_extract_n_fns =
    sizeof(bp_sandbox_extract_fns) / sizeof(bp_sandbox_extract_fns[0]);

static PopplerDocument *kept_pdf; /* never freed: see bp_sandbox_extract_init() */

/* The encodings the text extractor may convert from (bp_doc_text.c): windows-1252 (its
 * choice for any Latin-alphabet guess, as ISO-8859-1, which glibc has built in, as it has
 * UTF-16), and the other scripts uchardet can name, which it follows. glibc loads a module
 * per code page when a converter is opened (dlopen: an open a confined child may not make)
 * and may unload it when the converter is closed: one converter each, kept open for the
 * life of the extractor, keeps them loaded for every child. Each costs every fork a little
 * (its mappings), so the Latin code pages the extractor never converts from are not here.
 * A name this iconv does not know is skipped; an encoding outside the list fails its job by
 * SIGSYS, naming the openat, rather than being misread. */
static const char *const warm_encodings[] = {
    "WINDOWS-1252", "ISO-8859-5",   "WINDOWS-1251", "KOI8-R",      "IBM855",       "IBM866",
    "MAC-CYRILLIC", "ISO-8859-7",   "WINDOWS-1253", "ISO-8859-8",  "WINDOWS-1255", "IBM862",
    "ISO-8859-6",   "WINDOWS-1256", "TIS-620",      "ISO-8859-11", "SHIFT_JIS",    "EUC-JP",
    "ISO-2022-JP",  "EUC-KR",       "UHC",          "JOHAB",       "BIG5",         "EUC-TW",
    "GB18030",      "HZ-GB-2312",   "ISO-2022-CN",  "GEORGIAN-PS", "ARMSCII-8",    "UTF-32",
};
static iconv_t warm_iconv[sizeof(warm_encodings) / sizeof(warm_encodings[0])];

/* poppler-glib is opened (dlopen: bp_poppler.h) and one PDF parsed. It frees its GlobalParams
 * with the last open document and builds them again (scanning /usr/share/poppler) for the
 * next: one document kept open for the life of the extractor keeps them built for every
 * child. */
static void warm_pdf(const char *pdf, size_t len)
{
    const bp_poppler *pp;
    bp_doc d;
    bp_err err;

    if (bp_doc_extract_mem(pdf, len, "warm.pdf", NULL, NULL, NULL, NULL, &d, &err) == 0)
        bp_doc_free(&d);
    if (kept_pdf == NULL && (pp = bp_poppler_get(&err)) != NULL) {
        GBytes *bytes = pp->bytes_new_static(pdf, len);
        kept_pdf = pp->document_new_from_bytes(bytes, NULL, NULL);
        pp->bytes_unref(bytes);
    }
}

bool bp_sandbox_extract_wants_pdf(const char *type, const char *head, size_t n)
{
    bp_doc_format f;

    if (type != NULL && type[0] != '\0')
        return bp_doc_format_parse(type, &f) == 0 && f == BP_FMT_PDF;
    return bp_doc_is_pdf(head, n);
}

void bp_sandbox_extract_init(const char *profile)
{
    static const char html[] = "<html><body><p>warm &amp; up</p></body></html>";
    static const char latin1[] = "caf\xe9 cr\xe8me br\xfbl\xe9"
                                 "e na\xefve";
    static const char utf16[] = "\xff\xfeh\0i\0";
    static const char pdf[] = /* one page, base-14 font: poppler's globals, font tables */
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Contents 4 0 R"
        "/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
        "4 0 obj<</Length 36>>stream\nBT /F1 12 Tf 20 100 Td (warm) Tj ET\nendstream endobj\n"
        "5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
        "trailer<</Root 1 0 R/Size 6>>\n%%EOF\n";
    bp_doc d;
    bp_err err;

    if (profile != NULL && strcmp(profile, BP_SANDBOX_PROFILE_PDF) == 0)
        serves_other = false;
    else if (profile != NULL && strcmp(profile, BP_SANDBOX_PROFILE_OTHER) == 0)
        serves_pdf = false;
    /* libxml2 sets up its tables, the text path loads its iconv converters and uchardet,
     * poppler-glib is opened (dlopen: bp_poppler.h) and builds its global parameters, lcms2 the
     * time zone (tzset: /etc/localtime): each child inherits them instead of opening files after it
     * is confined, which seccomp would answer with SIGSYS */
    tzset();
    if (serves_pdf)
        warm_pdf(pdf, sizeof(pdf) - 1);
    if (!serves_other)
        return;
    xmlInitParser();
    for (size_t i = 0; i < sizeof(warm_encodings) / sizeof(warm_encodings[0]); i++)
        if (warm_iconv[i] == NULL || warm_iconv[i] == (iconv_t)-1)
            warm_iconv[i] = iconv_open("UTF-8", warm_encodings[i]);
    if (bp_doc_extract_mem(html, sizeof(html) - 1, "warm.html", NULL, NULL, NULL, NULL, &d, &err) ==
        0)
        bp_doc_free(&d);
    if (bp_doc_extract_mem(latin1, sizeof(latin1) - 1, "warm.txt", NULL, NULL, NULL, NULL, &d,
                           &err) == 0)
        bp_doc_free(&d);
    if (bp_doc_extract_mem(utf16, sizeof(utf16) - 1, "warm.txt", NULL, NULL, NULL, NULL, &d,
                           &err) == 0)
        bp_doc_free(&d);
    if (bp_doc_extract_mem("# warm *up*", 11, "warm.md", "markdown", NULL, NULL, NULL, &d, &err) ==
        0)
        bp_doc_free(&d);
}

void bp_sandbox_extract_arg_set(bp_sandbox_extract_arg *a, const bp_doc_limits *lim,
                                const char *type, const char *name)
{
    memset(a, 0, sizeof(*a));
    if (lim != NULL)
        a->lim = *lim;
    snprintf(a->type, sizeof(a->type), "%s", type != NULL ? type : "");
    snprintf(a->name, sizeof(a->name), "%s", name != NULL ? name : "");
}
