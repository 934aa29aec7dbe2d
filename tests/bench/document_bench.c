/* document_bench.c -- the document handler measured directly, without Redis: documents per
 * second for generated documents (text, Markdown, HTML) and the peak RSS of one large file.
 *
 * The job context's command callback formats every command with hiredis, as the worker's
 * connection does (that is the one copy of each chunk), then drops it and answers GET with
 * nil and EVAL with an integer: the numbers are the handler's CPU cost, not Redis's.
 *
 *   document_bench throughput [DOCS] [BYTES]   (default 2000 documents of 100 KB)
 *   document_bench rss FILE                    peak RSS while processing FILE
 *   document_bench files FILE...               one worker's CPU time, pages, words and peak
 *                                              RSS over the files (PDF, DOCX, ...), as JSON
 *
 * Every document is parsed in the sandbox, as a worker parses it (bp_sandbox.h; this
 * binary is its own extractor): the CPU time counted is this process's plus the
 * extractor's and its parse children's (/proc/<extractor>/stat), and the peak RSS is the
 * worker's and, separately, the largest parse child's.
 *
 * Built and run by tests/bench/document_bench.sh. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <hiredis.h>

#include "bp_confine.h"
#include "bp_handlers_impl.h"
#include "bp_log.h"
#include "bp_sandbox.h"
#include "bp_sandbox_extract.h"

/* the worker's extractors, for PDFs and for every other format, as bp_worker.c makes them:
 * each started at its first document */
static bp_sandbox *sandbox, *sandbox_pdf;

static size_t bytes_sent; /* formatted command bytes, so the work cannot be optimised away */

static redisReply *bench_command(void *worker, int argc, const char **argv, const size_t *argvlen,
                                 bp_err *err)
{
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
    redisReply *r = calloc(1, sizeof(*r));

    (void)worker;
    (void)err;
    if (n > 0)
        bytes_sent += (size_t)n;
    free(cmd);
    r->type = strcmp(argv[0], "GET") == 0 ? REDIS_REPLY_NIL : REDIS_REPLY_INTEGER;
    return r;
}

/* CPU seconds of an extractor and of the parse children it reaped (clock ticks). */
static double extractor_cpu_s(bp_sandbox *sb)
{
    char path[64], buf[1024];
    unsigned long long ut, st, cut, cst;
    long pid = bp_sandbox_pid(sb);
    FILE *f;
    char *p;
    size_t n;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')'); /* fields 14..17 after "pid (comm) state ..." */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut, &st,
               &cut, &cst) != 4)
        return 0;
    return (double)(ut + st + cut + cst) / (double)sysconf(_SC_CLK_TCK);
}

static double sandbox_cpu_s(void)
{
    return extractor_cpu_s(sandbox) + extractor_cpu_s(sandbox_pdf);
}

/* CPU seconds of this process and of its sandbox: on a shared, loaded machine wall time
 * measures the others. */
static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + sandbox_cpu_s();
}

/* Peak RSS (KB) of the extractor process itself: VmHWM of its own image. (Its ru_maxrss, as
 * this process would read it once the extractor ended, also counts the copy of this
 * process it was forked as before its exec.) */
static long extractor_hwm_kb(bp_sandbox *sb)
{
    char path[64], line[256];
    long pid = bp_sandbox_pid(sb), kb = 0;
    FILE *f;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Both extractors' peaks added up (one that never started counts 0). */
static long extractors_hwm_kb(void)
{
    return extractor_hwm_kb(sandbox) + extractor_hwm_kb(sandbox_pdf);
}

/* The largest parse child of either extractor. */
static long child_peak_kb(void)
{
    long a = bp_sandbox_child_peak_kb(sandbox), b = bp_sandbox_child_peak_kb(sandbox_pdf);

    return a > b ? a : b;
}

static char handler_job[] = "*";

/* BP_BENCH_TEXT_IN_WORKER=1: sandbox.text_in_worker = true (UTF-8 text and Markdown are
 * extracted in the worker, everything else in the sandbox) */
static bp_handler_config bench_config(void)
{
    const char *in_worker = getenv("BP_BENCH_TEXT_IN_WORKER");

    return (bp_handler_config){
        .job = handler_job,
        .type = BP_HANDLER_DOCUMENT,
        .chunk_words = 200,
        .overlap_words = 40,
        .cache_ttl_s = 86400,
        .max_bytes = (int64_t)1 << 40,
        .sandbox = {.text_in_worker = in_worker != NULL && strcmp(in_worker, "1") == 0}};
}

static long result_pages, result_words; /* from the last result: "pages", "words" */

/* The integer after "key": in a result object, or 0. */
static long result_int(const char *json, const char *key)
{
    char pat[32];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(json, pat);
    return p != NULL ? strtol(p + strlen(pat), NULL, 10) : 0;
}

/* Run one job; returns 0 when it succeeded. */
static int run_one(const bp_handler_config *hc, const bp_confine *roots, const char *data,
                   size_t len, const char *id)
{
    static volatile int cancel;
    bp_job_ctx ctx = {.queue = "bench",
                      .prefix = "bull",
                      .job_id = id,
                      .job_name = "doc",
                      .data = data,
                      .data_len = len,
                      .attempt = 1,
                      .cancel = &cancel,
                      .sandbox = sandbox,
                      .sandbox_pdf = sandbox_pdf,
                      .command = bench_command};
    bp_result res = {0};
    int rc;

    bp_document_run(hc, roots, &ctx, &res);
    rc = res.error != NULL ? -1 : 0;
    if (rc != 0)
        fprintf(stderr, "document_bench: job failed: %s\n", res.error);
    else {
        result_pages = result_int(res.value, "pages");
        result_words = result_int(res.value, "words");
    }
    bp_result_clear(&res);
    return rc;
}

/* Fill buf with about n bytes of prose in the given flavour; returns the length. Each
 * document differs (seed) so the SHA-256 differs, as real documents do. */
static size_t gen_doc(char *buf, size_t n, const char *flavour, unsigned seed)
{
    static const char *const words[] = {
        "the",    "queue", "worker", "processes", "documents", "quickly", "and",  "stores",
        "chunks", "in",    "redis",  "über",      "naïve",     "中文",    "data", "results"};
    size_t len = 0;
    unsigned rng = seed * 2654435761u + 1;
    int in_para = 0;

    while (len + 64 < n) {
        rng = rng * 1103515245u + 12345u;
        const char *w = words[(rng >> 16) % 16];
        if (!in_para) {
            if (strcmp(flavour, "html") == 0)
                len += (size_t)sprintf(buf + len, "<p class=\"c%u\">", rng % 7);
            else if (strcmp(flavour, "markdown") == 0)
                len += (size_t)sprintf(buf + len, "%s", rng % 3 ? "" : "## ");
            in_para = 1;
        }
        if (strcmp(flavour, "markdown") == 0 && rng % 11 == 0)
            len += (size_t)sprintf(buf + len, "**%s** ", w);
        else if (strcmp(flavour, "html") == 0 && rng % 11 == 0)
            len += (size_t)sprintf(buf + len, "<a href=\"/x/%u\">%s</a> ", rng % 100, w);
        else
            len += (size_t)sprintf(buf + len, "%s%s", w, rng % 13 == 0 ? ". " : " ");
        if (rng % 97 == 0) {
            len +=
                (size_t)sprintf(buf + len, "%s", strcmp(flavour, "html") == 0 ? "</p>\n" : ".\n\n");
            in_para = 0;
        }
    }
    buf[len] = '\0';
    return len;
}

static int throughput(int docs, size_t bytes)
{
    static const char *const flavours[] = {"text", "markdown", "html"};
    bp_handler_config hc = bench_config();
    char *doc = malloc(bytes + 64), *data = malloc(2 * bytes + 128);

    if (doc == NULL || data == NULL)
        return 1;
    fprintf(stdout,
            "document handler, %d documents of %zu bytes each, chunk_words 200, overlap 40 "
            "(CPU time)\n",
            docs, bytes);
    for (size_t f = 0; f < 3; f++) {
        double t0, total = 0;
        for (int i = 0; i < docs; i++) {
            size_t len = gen_doc(doc, bytes, flavours[f], (unsigned)i);
            /* job data as Bull stores it: the text inside a JSON object */
            size_t dl = (size_t)sprintf(data, "{\"type\":\"%s\",\"text\":\"", flavours[f]);
            for (size_t k = 0; k < len; k++) {
                if (doc[k] == '"' || doc[k] == '\\')
                    data[dl++] = '\\';
                if (doc[k] == '\n') {
                    data[dl++] = '\\';
                    data[dl++] = 'n';
                    continue;
                }
                data[dl++] = doc[k];
            }
            dl += (size_t)sprintf(data + dl, "\"}");
            t0 = now_s();
            if (run_one(&hc, NULL, data, dl, "1") != 0)
                return 1;
            total += now_s() - t0;
        }
        fprintf(stdout, "  %-8s %8.0f documents/s  %7.1f MB/s\n", flavours[f], docs / total,
                (double)docs * (double)bytes / total / 1e6);
    }
    free(doc);
    free(data);
    return 0;
}

static int rss(const char *path)
{
    bp_handler_config hc = bench_config();
    char data[PATH_MAX + 16], full[PATH_MAX], dir[PATH_MAX], *dirs[1] = {dir};
    struct rusage before, after;
    bp_confine *roots = NULL;
    bp_err err = {0};
    double t0;
    int rc;

    /* the file's own directory is the one allowed root (allowed_dirs) */
    if (realpath(path, full) == NULL) {
        fprintf(stderr, "document_bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s", full);
    *strrchr(dir, '/') = '\0';
    if (dir[0] == '\0')
        snprintf(dir, sizeof(dir), "/");
    if (bp_confine_new(&roots, dirs, 1, &err) != 0) {
        fprintf(stderr, "document_bench: %s\n", err.msg);
        return 1;
    }
    getrusage(RUSAGE_SELF, &before);
    snprintf(data, sizeof(data), "{\"path\":\"%s\"}", full);
    t0 = now_s();
    rc = run_one(&hc, roots, data, strlen(data), "1");
    bp_confine_free(roots);
    if (rc != 0)
        return 1;
    getrusage(RUSAGE_SELF, &after);
    t0 = now_s() - t0;
    fprintf(stdout,
            "%s: %.2f s CPU, peak RSS %ld MB in the worker (before the job %ld MB), %ld MB in "
            "the parse child, %ld MB in the extractor, %zu MB sent as commands\n",
            path, t0, after.ru_maxrss / 1024, before.ru_maxrss / 1024, child_peak_kb() / 1024,
            extractors_hwm_kb() / 1024, bytes_sent >> 20);
    return 0;
}

/* One worker processing the files one after the other, as a queue would hand them over. */
static int files(int n, char **paths)
{
    bp_handler_config hc = bench_config();
    char dir[PATH_MAX], *dirs[1] = {dir};
    bp_confine *roots = NULL;
    bp_err err = {0};
    long pages = 0, words = 0;
    double bytes = 0, t0, total = 0;
    struct rusage ru;
    char data[4096];

    /* the corpus's directory is the one allowed root (allowed_dirs) */
    if (n < 1 || realpath(paths[0], dir) == NULL) {
        fprintf(stderr, "document_bench: no files\n");
        return 1;
    }
    *strrchr(dir, '/') = '\0';
    if (bp_confine_new(&roots, dirs, 1, &err) != 0) {
        fprintf(stderr, "document_bench: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
            perror(paths[i]);
            return 1;
        }
        bytes += (double)ftell(f);
        fclose(f);
        char full[PATH_MAX];
        if (realpath(paths[i], full) == NULL)
            return 1;
        snprintf(data, sizeof(data), "{\"path\":\"%s\"}", full);
        t0 = now_s();
        if (run_one(&hc, roots, data, strlen(data), "1") != 0)
            return 1;
        total += now_s() - t0;
        pages += result_pages;
        words += result_words;
    }
    bp_confine_free(roots);
    getrusage(RUSAGE_SELF, &ru);
    /* maxrss_kb: the peaks of the worker's three processes added up (they are alive at the
     * same time): the worker, its extractor and the largest parse child. Pages they share
     * (the libraries' code, the extractor's pages a child has not written) count in each:
     * an upper bound of what one worker holds. */
    long child_kb = child_peak_kb(), extractor_kb = extractors_hwm_kb();
    fprintf(stdout,
            "{\"files\":%d,\"pages\":%ld,\"words\":%ld,\"bytes\":%.0f,\"cpu_s\":%.4f,"
            "\"maxrss_kb\":%ld,\"worker_rss_kb\":%ld,\"extractor_rss_kb\":%ld,"
            "\"parser_rss_kb\":%ld}\n",
            n, pages, words, bytes, total, ru.ru_maxrss + extractor_kb + child_kb, ru.ru_maxrss,
            extractor_kb, child_kb);
    return 0;
}

int main(int argc, char **argv)
{
    const char *profile;

    if (bp_sandbox_is_extractor(argc, argv, &profile))
        return bp_sandbox_server_main(bp_sandbox_extract_fns, bp_sandbox_extract_n_fns,
                                      bp_sandbox_extract_init, profile);
    sandbox = bp_sandbox_new(
        &(bp_sandbox_options){.log_stderr_fd = 2, .profile = BP_SANDBOX_PROFILE_OTHER});
    sandbox_pdf = bp_sandbox_new(
        &(bp_sandbox_options){.log_stderr_fd = 2, .profile = BP_SANDBOX_PROFILE_PDF});
    bp_log_open(BP_LOG_WARN, NULL, false, BP_LOG_TEXT); /* no "extractor up" lines */
    if (argc >= 3 && strcmp(argv[1], "files") == 0)
        return files(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "throughput") == 0)
        return throughput(argc > 2 ? atoi(argv[2]) : 2000,
                          argc > 3 ? (size_t)atol(argv[3]) : 100 * 1024);
    if (argc == 3 && strcmp(argv[1], "rss") == 0)
        return rss(argv[2]);
    fprintf(stderr, "usage: document_bench throughput [DOCS] [BYTES] | rss FILE | files FILE...\n");
    return 64;
}
