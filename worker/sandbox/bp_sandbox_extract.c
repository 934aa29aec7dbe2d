/* bp_sandbox_extract.c -- the document extraction inside the sandbox's child, and the
 * worker's checks of what comes back.
 *
 * The child maps the document fd it was handed, extracts with bp_extract_release() (which
 * reports every 4 MB consumed: the progress records), and writes "BPX1", the word count and
 * the text to the result pipe. An allocation that fails is reported as out of memory, with
 * the limit, instead of a crash. The worker decodes by normalising the text once more: the
 * chunker relies on single spaces between words, and a child that was taken over by a
 * hostile file could send anything. */
#include "bp_sandbox_extract.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>

#define BP_SBX_EXTRACT_MAGIC "BPX1"
#define BP_SBX_EXTRACT_HDR   12 /* magic + u64 word count */

typedef struct child_doc {
    const bp_sandbox_task *t;
    const char *base; /* the mapping (or "" when empty) */
    void *map;        /* the same, writable pointer for madvise; NULL when empty */
    size_t len;
} child_doc;

static void child_release(void *arg, const char *upto)
{
    child_doc *d = arg;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t done = (size_t)(upto - d->base);

    /* the mapping's pages behind: out of this child's RSS (and of memory_mb's count) */
    if (d->map != NULL && done / page > 0)
        (void)madvise(d->map, done / page * page, MADV_DONTNEED);
    bp_sandbox_progress(d->t, done, d->len, BP_SANDBOX_UNIT_BYTES);
}

static const char *type_label(bp_doc_type type)
{
    switch (type) {
    case BP_DOC_MARKDOWN:
        return "Markdown";
    case BP_DOC_HTML:
        return "HTML";
    default:
        return "text";
    }
}

static int child_extract(const bp_sandbox_task *t)
{
    char name[32];
    bp_doc_type type;
    struct stat st;
    child_doc d = {.t = t};
    bp_text text;
    unsigned char hdr[BP_SBX_EXTRACT_HDR];
    uint64_t words;
    void *map = NULL;

    snprintf(name, sizeof(name), "%.*s", (int)(t->arg_len < 31 ? t->arg_len : 31),
             (const char *)t->arg);
    if (bp_doc_type_parse(name, &type) != 0)
        bp_sandbox_fail(t, "unknown document type \"%s\"", name);
    bp_sandbox_format(t, type_label(type));
    if (fstat(t->doc_fd, &st) != 0)
        bp_sandbox_fail(t, "cannot stat the document");
    d.len = (size_t)st.st_size;
    if (d.len > 0) {
        map = mmap(NULL, d.len, PROT_READ, MAP_PRIVATE, t->doc_fd, 0);
        if (map == MAP_FAILED)
            bp_sandbox_fail_oom(t); /* the only way a read-only mapping fails here */
        (void)madvise(map, d.len, MADV_SEQUENTIAL);
    }
    d.map = map;
    d.base = map != NULL ? map : "";
    bp_sandbox_progress(t, 0, d.len, BP_SANDBOX_UNIT_BYTES);
    if (bp_extract_release(type, d.base, d.len, &text, child_release, &d) != 0)
        bp_sandbox_fail_oom(t);
    memcpy(hdr, BP_SBX_EXTRACT_MAGIC, 4);
    words = text.words;
    memcpy(hdr + 4, &words, sizeof(words));
    if (bp_sandbox_write(t, hdr, sizeof(hdr)) != 0 || bp_sandbox_write(t, text.buf, text.len) != 0)
        return 1; /* the worker stopped reading (output limit): it knows why */
    bp_sandbox_progress(t, d.len, d.len, BP_SANDBOX_UNIT_BYTES);
    return 0;
}

const bp_sandbox_fn_entry bp_sandbox_extract_fns[] = {
    [BP_SANDBOX_FN_EXTRACT] = {"extract", child_extract},
};
const size_t bp_sandbox_extract_n_fns =
    sizeof(bp_sandbox_extract_fns) / sizeof(bp_sandbox_extract_fns[0]);

void bp_sandbox_extract_init(void)
{
    static const char sample[] = "<html><body><p>warm &amp; up</p></body></html>";
    bp_text t;

    /* libxml2 sets up its tables and encodings once; every child inherits them */
    xmlInitParser();
    if (bp_extract(BP_DOC_HTML, sample, sizeof(sample) - 1, &t) == 0)
        bp_text_free(&t);
    if (bp_extract(BP_DOC_MARKDOWN, "# warm *up*", 11, &t) == 0)
        bp_text_free(&t);
}

const char *bp_sandbox_extract_arg(bp_doc_type type, size_t *len)
{
    const char *name = type == BP_DOC_MARKDOWN ? "markdown" : type == BP_DOC_HTML ? "html" : "text";

    *len = strlen(name);
    return name;
}

int bp_sandbox_extract_decode(const char *buf, size_t n, bp_text *t, char *err_text, size_t cap)
{
    size_t bad;

    if (n < BP_SBX_EXTRACT_HDR || memcmp(buf, BP_SBX_EXTRACT_MAGIC, 4) != 0) {
        snprintf(err_text, cap, "the parser's output is malformed (%zu bytes, no header)", n);
        return -1;
    }
    buf += BP_SBX_EXTRACT_HDR;
    n -= BP_SBX_EXTRACT_HDR;
    bad = bp_utf8_check((const unsigned char *)buf, n);
    if (bad != n) {
        snprintf(err_text, cap, "the parser's output is not valid UTF-8 at byte %zu", bad);
        return -1;
    }
    if (bp_extract(BP_DOC_TEXT, buf, n, t) != 0) {
        snprintf(err_text, cap, "out of memory taking %zu bytes of extracted text", n);
        return -1;
    }
    return 0;
}
