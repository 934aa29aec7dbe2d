/* bp_document.c -- the document handler: the seed application's main job.
 *
 * Input {"path": "/abs/file"} or {"text": "..."}, optional "type" (a format name: it wins
 * over detection from the content). The flow costs two round trips to Redis for a
 * document of up to BP_DOC_BATCH chunks:
 *   0. read the job data with a scanner made for it (bp_docdata.h): jansson would cost
 *      more than everything else for a 100 KB {"text"} job;
 *   1. open the file beneath its allowed_dirs root (bp_confine.h) and map it read-only
 *      (MAP_PRIVATE), or take the text, check max_bytes, hash the input bytes (SHA-256,
 *      OpenSSL EVP);
 *   2. GET <prefix>:<queue>:doc:<sha256>[:json][:<type>]: when present, return it with
 *      "cached": true (the stored form and a forced type are part of the key);
 *   3. extract in the sandbox (bp_sandbox.h: a confined child of the worker's extractor
 *      process runs worker/extract/bp_doc.h (format detection, encodings, PDF, Office,
 *      ODF, EPUB, RTF, with page and heading marks) and sends back the encoded bp_doc; Bull
 *      progress moves as it goes; a crash, a limit or the job's timeout ends that child,
 *      not this worker), cut chunks by offsets (bp_chunk.h), and with chunk_format =
 *      "json" label each with its pages and heading path (bp_docresult.h);
 *   4. one EVAL stores the chunk list, its expiry and the result (SET EX) atomically.
 * A document with more chunks fills a temporary list in batches and the last EVAL renames
 * it into place, so readers never see a half-written list under the real key.
 *
 * Memory: the mapping (page cache, not heap, dropped before the parse), the extracted text
 * (at most about the input size) and one batch of argv pointers into that text; a chunk is
 * copied only by hiredis when it formats the command. A sandbox failure that is a property
 * of the input (crash, memory, CPU, output limits, a refused file) fails the job without
 * retry (bp_result.discard): running it again would end the same way. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "bp_chunk.h"
#include "bp_confine.h"
#include "bp_doc.h"
#include "bp_docdata.h"
#include "bp_docresult.h"
#include "bp_handlers_impl.h"
#include "bp_log.h"
#include "bp_sandbox.h"
#include "bp_sandbox_extract.h"
#include "bp_time.h"

#define BP_DOC_BATCH         1000 /* chunks per RPUSH: keeps one command around a few MB */
#define BP_DOC_TMP_TTL_S     3600 /* a crashed multi-batch store leaves nothing for longer */
#define BP_DOC_SBX_MEMORY_MB 512  /* the defaults of handlers.sandbox (config/bp_config_keys.c) */
#define BP_DOC_SBX_CPU_S     60
#define BP_DOC_SBX_WALL_S    120
#define BP_DOC_SBX_OUTPUT_MB 256
#define BP_DOC_FIXED_ARGS    10 /* EVAL script 3 k1 k2 k3 ttl first last result */

/* KEYS[1] list being filled, KEYS[2] final chunk list, KEYS[3] result key.
 * ARGV[1] ttl in s (<= 0: no expiry), ARGV[2] "1" = first batch (clear KEYS[1] first),
 * ARGV[3] "1" = last batch (move into place, expire, store the result), ARGV[4] result
 * JSON, ARGV[5..] chunks. RPUSH in slices: Lua's unpack() has a stack limit. */
static const char doc_store_lua[] =
    "local n = #ARGV\n"
    "local ttl = tonumber(ARGV[1])\n"
    "if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end\n"
    "for i = 5, n, 1000 do\n"
    "  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, n)))\n"
    "end\n"
    "if ARGV[3] == '1' then\n"
    "  if KEYS[1] ~= KEYS[2] then\n"
    "    if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('RENAME', KEYS[1], KEYS[2])\n"
    "    else redis.call('DEL', KEYS[2]) end\n"
    "  end\n"
    "  if ttl > 0 then\n"
    "    redis.call('EXPIRE', KEYS[2], ttl)\n"
    "    redis.call('SET', KEYS[3], ARGV[4], 'EX', ttl)\n"
    "  else\n"
    "    redis.call('PERSIST', KEYS[2])\n"
    "    redis.call('SET', KEYS[3], ARGV[4])\n"
    "  end\n"
    "elseif ttl > 0 then\n"
    "  redis.call('EXPIRE', KEYS[1], ttl)\n"
    "else\n"
    "  redis.call('EXPIRE', KEYS[1], " /* BP_DOC_TMP_TTL_S */ "3600)\n"
    "end\n"
    "return n - 4\n";

/* One document being processed: its input bytes and the Redis keys derived from them. */
typedef struct doc_job {
    const bp_handler_config *hc; /* routed handler settings */
    const bp_confine *roots;     /* hc->allowed_dirs, opened; NULL = path jobs refused */
    bp_job_ctx *ctx;             /* the job */
    const char *path;            /* file name, NULL for text input */
    size_t path_len;             /* bytes in path (a NUL inside is refused by bp_confine) */
    const char *type;            /* the job's "type" (a format name), NULL to detect */
    const char *in;              /* input bytes (mapping or decoded text) */
    size_t in_len;               /* bytes in in */
    void *map;                   /* mapping to munmap, NULL for text */
    int fd;                      /* the open file (handed to the sandbox), -1 for text */
    bp_doc doc;                  /* the extracted text and its marks */
    int64_t progress_ms;         /* when progress was last recorded (monotonic; job start) */
    int progress_pct;            /* the percentage recorded then (0 at the start) */
    char sha[65];                /* hex SHA-256 of in */
    char *result_key;            /* <prefix>:<queue>:doc:<sha> */
    char *chunks_key;            /* result_key + ":chunks" */
    char *tmp_key;               /* chunks_key + ":tmp:<job id>" (multi-batch only) */
    bp_docdata data;             /* the job data's fields (path and text point here) */
} doc_job;

/* Check the fields of the job data: exactly one of path and text, both strings, an
 * absolute path, a known type. Fills d. Returns 0, or -1 with res set. */
static int doc_fields(doc_job *d, const bp_docdata *f, bp_result *res)
{
    if ((f->path.kind == BP_DOCDATA_ABSENT) == (f->text.kind == BP_DOCDATA_ABSENT)) {
        bp_result_error(res, f->path.kind != BP_DOCDATA_ABSENT
                                 ? "document job data has both \"path\" and \"text\"; give one "
                                   "of them"
                                 : "document job data needs \"path\" (an absolute file name) or "
                                   "\"text\"");
        return -1;
    }
    if (f->path.kind != BP_DOCDATA_ABSENT) {
        if (f->path.kind != BP_DOCDATA_STRING || f->path.value[0] != '/') {
            bp_result_error(res, "document \"path\" must be an absolute file name string, "
                                 "beneath a directory of the handler's allowed_dirs");
            return -1;
        }
        d->path = f->path.value;
        d->path_len = f->path.len;
    } else {
        if (f->text.kind != BP_DOCDATA_STRING) {
            bp_result_error(res, "document \"text\" must be a string");
            return -1;
        }
        d->in = f->text.value;
        d->in_len = f->text.len;
        d->type = "text"; /* text given inline is text unless the job says otherwise */
    }
    if (f->type.kind != BP_DOCDATA_ABSENT) {
        bp_doc_format fmt;
        if (f->type.kind != BP_DOCDATA_STRING || strlen(f->type.value) != f->type.len ||
            bp_doc_format_parse(f->type.value, &fmt) != 0) {
            bp_result_error(res, "document \"type\" must be one of text, markdown, html, pdf, "
                                 "docx, pptx, xlsx, odt, odp, ods, epub, rtf");
            return -1;
        }
        d->type = bp_doc_format_name(fmt);
    }
    return 0;
}

/* Parse the job data into d->data (the fast scanner of bp_docdata.h; jansson only to word
 * the error when the data is not a JSON object). Returns 0, or -1 with res set. */
static int doc_parse(doc_job *d, bp_result *res)
{
    json_error_t jerr;
    json_t *data;
    const char *nul;
    int rc = bp_docdata_scan(d->ctx->data, d->ctx->data_len, &d->data);

    if (rc > 0)
        return doc_fields(d, &d->data, res);
    if (rc < 0) {
        bp_result_error(res, "out of memory reading the job data of a document job");
        return -1;
    }
    /* JSON has no raw NUL byte (inside a string it is \u0000); jansson takes one after a
     * number, so it cannot word this case */
    nul = memchr(d->ctx->data, '\0', d->ctx->data_len);
    if (nul != NULL) {
        bp_result_error(res,
                        "document job data is not valid JSON: a NUL byte at byte %zu (inside a "
                        "string it is written \\u0000)",
                        (size_t)(nul - d->ctx->data));
        return -1;
    }
    data = json_loadb(d->ctx->data, d->ctx->data_len, JSON_ALLOW_NUL, &jerr);
    if (data == NULL)
        bp_result_error(res, "document job data is not valid JSON: %s (at byte %d)", jerr.text,
                        jerr.position);
    else
        bp_result_error(res, "document job data must be an object {\"path\": \"/abs/file\"} or "
                             "{\"text\": \"...\"}");
    json_decref(data);
    return -1;
}

static int doc_over_limit(const doc_job *d, uint64_t size, bp_result *res)
{
    if (d->hc->max_bytes > 0 && size > (uint64_t)d->hc->max_bytes) {
        bp_result_error(res,
                        "document is %" PRIu64 " bytes, over the limit of max_bytes = %" PRId64
                        " (handlers.max_bytes)",
                        size, d->hc->max_bytes);
        return -1;
    }
    return 0;
}

/* Open the file beneath its allowed_dirs root (bp_confine.h: openat2 RESOLVE_BENEATH, a
 * regular file only) and map it read-only. Returns 0, or -1 with res set. */
static int doc_map(doc_job *d, bp_result *res)
{
    struct stat st;
    bp_err err = {0};
    int fd = bp_confine_open(d->roots, d->path, d->path_len, &st, &err);

    if (fd < 0) {
        bp_result_error(res,
                        "cannot read document: %s (document handler for job \"%s\", config "
                        "line %d)",
                        err.msg, d->hc->job, d->hc->line);
        return -1;
    }
    if (doc_over_limit(d, (uint64_t)st.st_size, res) != 0)
        goto out_close;
    d->in_len = (size_t)st.st_size;
    if (d->in_len == 0) {
        d->in = "";
    } else {
        void *m = mmap(NULL, d->in_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            bp_result_error(res, "cannot read document '%s': mmap: %s", d->path, strerror(errno));
            goto out_close;
        }
        (void)madvise(m, d->in_len, MADV_SEQUENTIAL);
        d->map = m;
        d->in = m;
    }
    d->fd = fd; /* the sandbox's child reads it */
    return 0;

out_close:
    close(fd);
    return -1;
}

static int doc_hash(doc_job *d, bp_result *res)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";

    if (EVP_Digest(d->in, d->in_len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        bp_result_error(res, "cannot compute the document's SHA-256 (OpenSSL EVP_Digest failed)");
        return -1;
    }
    for (unsigned i = 0; i < 32; i++) {
        d->sha[2 * i] = hex[md[i] >> 4];
        d->sha[2 * i + 1] = hex[md[i] & 15];
    }
    d->sha[64] = '\0';
    bool json = d->hc->chunk_format == BP_CHUNK_FORMAT_JSON;
    bool forced = d->path != NULL ? d->type != NULL : strcmp(d->type, "text") != 0;
    if (asprintf(&d->result_key, "%s:%s:doc:%s%s%s%s", d->ctx->prefix, d->ctx->queue, d->sha,
                 json ? ":json" : "", forced ? ":" : "", forced ? d->type : "") < 0) {
        d->result_key = NULL;
        goto out_oom;
    }
    if (asprintf(&d->chunks_key, "%s:chunks", d->result_key) < 0) {
        d->chunks_key = NULL;
        goto out_oom;
    }
    return 0;

out_oom:
    bp_result_error(res, "out of memory building the document keys");
    return -1;
}

/* GET the cached result. Returns 1 (res holds it, "cached": true), 0 (not cached) or -1
 * (res holds the error). */
static int doc_cached(doc_job *d, bp_result *res)
{
    const char *argv[2] = {"GET", d->result_key};
    size_t argvlen[2] = {3, strlen(d->result_key)};
    bp_err err = {0};
    redisReply *r = d->ctx->command(d->ctx->worker, 2, argv, argvlen, &err);
    json_t *cached;
    char *text;
    int rc = 0;

    if (r == NULL) {
        bp_result_error(res, "cannot read the document cache '%s': %s", d->result_key, err.msg);
        return -1;
    }
    if (r->type != REDIS_REPLY_STRING)
        goto out_free;
    cached = json_loadb(r->str, (size_t)r->len, 0, NULL);
    if (!json_is_object(cached)) {
        bp_job_warn(d->ctx, "document cache '%s' holds no JSON object; recomputing", d->result_key);
        json_decref(cached);
        goto out_free;
    }
    json_object_set_new(cached, "cached", json_true()); /* steals the new reference */
    text = json_dumps(cached, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(cached);
    if (text == NULL) {
        bp_result_error(res, "out of memory encoding the cached document result");
        rc = -1;
        goto out_free;
    }
    bp_result_value(res, text, strlen(text));
    free(text);
    rc = 1;

out_free:
    freeReplyObject(r);
    return rc;
}

/* Store chunks argv[BP_DOC_FIXED_ARGS .. argc) with one EVAL. Returns 0, or -1 with res
 * set. */
static int doc_store(doc_job *d, const char **argv, size_t *argvlen, int argc, bool first,
                     bool last, const char *result, bp_result *res)
{
    char ttl[24];
    bp_err err = {0};
    const char *fill = last && first ? d->chunks_key : d->tmp_key;
    redisReply *r;

    snprintf(ttl, sizeof(ttl), "%d", d->hc->cache_ttl_s);
    argv[0] = "EVAL";
    argv[1] = doc_store_lua;
    argv[2] = "3";
    argv[3] = fill;
    argv[4] = d->chunks_key;
    argv[5] = d->result_key;
    argv[6] = ttl;
    argv[7] = first ? "1" : "0";
    argv[8] = last ? "1" : "0";
    argv[9] = result != NULL ? result : "";
    for (int i = 0; i < BP_DOC_FIXED_ARGS; i++)
        argvlen[i] = strlen(argv[i]);
    argvlen[1] = sizeof(doc_store_lua) - 1;
    r = d->ctx->command(d->ctx->worker, argc, argv, argvlen, &err);
    if (r == NULL) {
        bp_result_error(res, "cannot store document chunks in '%s': %s", d->chunks_key, err.msg);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* The limits of this handler's configuration, for the extractors. */
static bp_doc_limits doc_limits(const bp_handler_config *hc)
{
    bp_doc_limits l = {
        .max_input_bytes = hc->max_bytes > 0 ? (uint64_t)hc->max_bytes : 0,
        .max_output_bytes = hc->max_text_bytes > 0 ? (uint64_t)hc->max_text_bytes : 0,
        .max_pages = hc->max_pages > 0 ? (uint32_t)hc->max_pages : 0,
        .max_zip_entries = hc->max_zip_entries > 0 ? (uint32_t)hc->max_zip_entries : 0,
        .max_zip_ratio = hc->max_zip_ratio > 0 ? (uint32_t)hc->max_zip_ratio : 0,
        .max_zip_bytes = hc->max_zip_bytes > 0 ? (uint64_t)hc->max_zip_bytes : 0,
        .max_depth = hc->max_xml_depth > 0 ? (uint32_t)hc->max_xml_depth : 0,
    };
    return l;
}

/* Bull progress as the parse goes: a percentage (what bull-board draws and job.progress()
 * returns), recorded when it moved and at most every progress_ms, the first time
 * progress_ms after the job started: a document parsed faster than that costs no progress
 * command at all. A total of 0 (pages not known yet) records nothing. */
static void doc_progress(void *arg, uint64_t done, uint64_t total, bp_sandbox_unit unit)
{
    doc_job *d = arg;
    int64_t now = bp_mono_ms();
    int pct;
    char json[16];

    (void)unit;
    if (total == 0 || d->ctx->progress == NULL || d->hc->progress_ms <= 0)
        return;
    pct = done >= total ? 100 : (int)(done * 100 / total);
    if (pct <= d->progress_pct || now - d->progress_ms < d->hc->progress_ms)
        return;
    snprintf(json, sizeof(json), "%d", pct);
    (void)d->ctx->progress(d->ctx->worker, json);
    d->progress_ms = now;
    d->progress_pct = pct;
}

/* A {"text"} job's bytes as a file the sandbox can be handed. Returns the fd or -1. */
static int doc_memfd(const doc_job *d, bp_result *res)
{
    int fd = memfd_create("bullpen-text", MFD_CLOEXEC);
    size_t off = 0;

    if (fd < 0) {
        bp_result_error(res, "cannot hand the text to the parser: memfd_create: %s",
                        strerror(errno));
        return -1;
    }
    while (off < d->in_len) {
        ssize_t n = write(fd, d->in + off, d->in_len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bp_result_error(res, "cannot hand the text to the parser: %s", strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    return fd;
}

/* sandbox.text_in_worker: whether d is valid UTF-8 plain text or Markdown, which the worker
 * may extract itself. That path is bullpen's own white-space and Markdown scanners, the kind
 * of code the worker already runs over the same bytes (the job data scanner, the chunker),
 * with no third-party parser: no libxml2, poppler, libzip, uchardet or iconv (text in a
 * legacy encoding or UTF-16 still goes to the sandbox). It saves the sandbox's fixed cost, which is
 * most of a small text job. */
static bool doc_in_worker(const doc_job *d)
{
    bp_doc_format f;

    if (!d->hc->sandbox.text_in_worker || d->in == NULL)
        return false;
    if (d->type != NULL ? bp_doc_format_parse(d->type, &f) != 0
                        : (f = bp_doc_detect(d->in, d->in_len)) != BP_FMT_TEXT)
        return false;
    if (f != BP_FMT_TEXT && f != BP_FMT_MARKDOWN)
        return false;
    /* no NUL: UTF-16 text is valid UTF-8 byte by byte, and would be converted here */
    return memchr(d->in, '\0', d->in_len) == NULL &&
           bp_utf8_check((const unsigned char *)d->in, d->in_len) == d->in_len;
}

/* The worker's extractor for the document on fd: its PDF one when the job's type or the
 * first bytes say PDF, the one for every other format otherwise (bp_sandbox_extract.h). */
static bp_sandbox *doc_sandbox(const doc_job *d, int fd)
{
    char head[BP_DOC_PDF_HEAD];
    ssize_t n;

    if (d->ctx->sandbox_pdf == NULL)
        return d->ctx->sandbox;
    do
        n = pread(fd, head, sizeof(head), 0);
    while (n < 0 && errno == EINTR);
    return bp_sandbox_extract_wants_pdf(d->type, head, n > 0 ? (size_t)n : 0) ? d->ctx->sandbox_pdf
                                                                              : d->ctx->sandbox;
}

/* Extract the input into d->doc, in the sandbox: the worker's extractor forks a confined
 * child that parses d->fd (or the text, through a memfd) and hands back what
 * bp_doc_encode() wrote; bp_doc_decode() checks every byte of it. Returns 0, or -1 with
 * res set (and res->discard when the input itself failed: a retry would end the same
 * way). */
static int doc_extract(doc_job *d, bp_result *res)
{
    const bp_sandbox_config *sc = &d->hc->sandbox;
    /* a field left 0 (a handler built in code, not read from a file) takes the default */
    bp_sandbox_limits lim = {
        .memory_bytes = (uint64_t)(sc->memory_mb > 0 ? sc->memory_mb : BP_DOC_SBX_MEMORY_MB) << 20,
        .cpu_s = sc->cpu_s > 0 ? sc->cpu_s : BP_DOC_SBX_CPU_S,
        .wall_ms = (int64_t)(sc->wall_s > 0 ? sc->wall_s : BP_DOC_SBX_WALL_S) * 1000,
        .output_bytes = (uint64_t)(sc->output_mb > 0 ? sc->output_mb : BP_DOC_SBX_OUTPUT_MB) << 20};
    bp_doc_limits dl = doc_limits(d->hc);
    bp_sandbox_extract_arg arg;
    char name[300];
    bp_sandbox_outcome out;
    bp_sandbox *sb;
    bp_err err = {0};
    int fd, rc = -1;

    if (doc_in_worker(d)) {
        if (bp_doc_extract_mem(d->in, d->in_len, d->path != NULL ? d->path : "job text", d->type,
                               &dl, NULL, NULL, &d->doc, &err) != 0) {
            bp_result_error(res, "%s; not retried: the same input would fail the same way",
                            err.msg);
            res->discard = true;
            return -1;
        }
        return 0;
    }
    fd = d->fd >= 0 ? d->fd : doc_memfd(d, res);
    if (fd < 0)
        return -1;
    if (d->path != NULL)
        snprintf(name, sizeof(name), "document '%.256s'", d->path);
    else
        snprintf(name, sizeof(name), "document (\"text\" of job %.100s)", d->ctx->job_id);
    sb = doc_sandbox(d, fd);
    if (sb == NULL) {
        bp_result_error(res, "%s: no extraction sandbox in this worker", name);
        goto out_close;
    }
    if (d->map != NULL) { /* hashed: the parse reads the file, not this mapping */
        munmap(d->map, d->in_len);
        d->map = NULL;
        d->in = NULL;
    }
    bp_sandbox_extract_arg_set(&arg, &dl, d->type, d->path != NULL ? d->path : "job text");
    if (bp_sandbox_run(sb, BP_SANDBOX_FN_EXTRACT, fd, &arg, sizeof(arg), &lim, doc_progress, d,
                       d->ctx->cancel, &out, &err) != 0) {
        bp_result_error(res, "%s: cannot parse it: %s", name, err.msg);
        goto out_close;
    }
    switch (out.status) {
    case BP_SANDBOX_OK:
        if (bp_doc_decode(out.output, out.output_len, &dl, &d->doc, &err) != 0) {
            bp_result_error(res, "%s: the parser's output was refused: %s; not retried", name,
                            err.msg);
            res->discard = true;
            bp_log_warn("job %s: %s: the parser's output was refused: %s", d->ctx->job_id, name,
                        err.msg);
            break;
        }
        bp_log_debug("job %s: %s parsed in the sandbox: %.3f ms (confine %.3f ms), %.3f ms "
                     "CPU, peak RSS %ld KB",
                     d->ctx->job_id, name, (double)out.wall_us / 1e3, (double)out.confine_us / 1e3,
                     (double)out.cpu_us / 1e3, out.maxrss_kb);
        rc = 0;
        break;
    case BP_SANDBOX_FAILED: /* an extractor's refusal may name the file already */
        if (d->path != NULL && strstr(out.reason, d->path) != NULL)
            bp_result_error(res, "%s; not retried: the same input would fail the same way",
                            out.reason);
        else
            bp_result_error(res, "%s: %s; not retried: the same input would fail the same way",
                            name, out.reason);
        res->discard = true;
        bp_log_warn("job %s: %s: %s", d->ctx->job_id, name, out.reason);
        break;
    case BP_SANDBOX_TRANSIENT:
        bp_result_error(res, "%s: %s", name, out.reason);
        bp_log_warn("job %s: %s: %s", d->ctx->job_id, name, out.reason);
        break;
    case BP_SANDBOX_CANCELLED: /* the worker words it (timeout, ctl cancel, shutdown) */
        bp_result_error(res, "%s: the parse was stopped: the job was cancelled", name);
        break;
    }
    free(out.output);

out_close:
    if (d->fd < 0)
        close(fd);
    return rc;
}

/* Extract, chunk and store. Returns 0 with res holding the result, or -1 with the error. */
static int doc_process(doc_job *d, bp_result *res)
{
    const bp_text *t = &d->doc.text;
    bool json = d->hc->chunk_format == BP_CHUNK_FORMAT_JSON;
    bp_chunker ch;
    bp_chunk_label label;
    const char **argv = NULL;
    size_t *argvlen = NULL, *bounds = NULL, n_bounds, off, len, n_chunks = 0;
    int argc = BP_DOC_FIXED_ARGS, rc = -1;
    bool first = true;
    char *result = NULL;

    if (doc_extract(d, res) != 0)
        return -1;
    bp_chunk_label_init(&label, &d->doc);
    if (bp_chunker_init(&ch, t->buf, t->len, d->hc->chunk_words, d->hc->overlap_words) != 0)
        goto out_oom;
    bounds = bp_doc_heading_offsets(&d->doc, &n_bounds); /* chunks end where sections start */
    if (bounds == NULL && n_bounds > 0)
        goto out_oom;
    bp_chunker_set_bounds(&ch, bounds, n_bounds);
    argv = calloc(BP_DOC_FIXED_ARGS + BP_DOC_BATCH, sizeof(argv[0]));
    argvlen = malloc((BP_DOC_FIXED_ARGS + BP_DOC_BATCH) * sizeof(argvlen[0]));
    if (argv == NULL || argvlen == NULL)
        goto out_oom;
    while (bp_chunker_next(&ch, &off, &len)) {
        if (argc == BP_DOC_FIXED_ARGS + BP_DOC_BATCH) { /* full, and more follow */
            if (first && asprintf(&d->tmp_key, "%s:tmp:%s", d->chunks_key, d->ctx->job_id) < 0) {
                d->tmp_key = NULL;
                goto out_oom;
            }
            if (doc_store(d, argv, argvlen, argc, first, false, NULL, res) != 0)
                goto out_free;
            if (json) /* the JSON chunks of this batch were ours */
                for (int i = BP_DOC_FIXED_ARGS; i < argc; i++)
                    free((char *)(uintptr_t)argv[i]);
            first = false;
            argc = BP_DOC_FIXED_ARGS;
        }
        if (json) {
            argv[argc] = bp_chunk_json(&label, off, len, &argvlen[argc]);
            if (argv[argc] == NULL)
                goto out_oom;
        } else {
            argv[argc] = t->buf + off;
            argvlen[argc] = len;
        }
        argc++;
        n_chunks++;
    }
    result = bp_docresult_json(&d->doc, d->sha, d->in_len, n_chunks, json);
    if (result == NULL)
        goto out_oom;
    if (doc_store(d, argv, argvlen, argc, first, true, result, res) != 0)
        goto out_free;
    bp_log_debug("job %s: document %s: %s, %zu bytes, %zu pages, %zu words, %zu chunks",
                 d->ctx->job_id, d->sha, bp_doc_format_name(d->doc.format), d->in_len,
                 d->doc.n_pages, t->words, n_chunks);
    bp_result_value(res, result, strlen(result));
    rc = 0;
    goto out_free;

out_oom:
    bp_result_error(res, "out of memory chunking a %zu-byte document", d->in_len);
out_free:
    if (json && argv != NULL)
        for (int i = BP_DOC_FIXED_ARGS; i < argc; i++)
            free((char *)(uintptr_t)argv[i]);
    free(result);
    free(argv);
    free(argvlen);
    free(bounds);
    bp_chunker_fini(&ch);
    return rc;
}

void bp_document_run(const bp_handler_config *hc, const bp_confine *roots, bp_job_ctx *ctx,
                     bp_result *res)
{
    doc_job d = {.hc = hc, .roots = roots, .ctx = ctx, .fd = -1, .progress_ms = bp_mono_ms()};

    if (ctx->command == NULL) {
        bp_result_error(res, "document handler has no Redis connection to store chunks");
        return;
    }
    if (doc_parse(&d, res) != 0)
        goto out;
    if (d.path != NULL ? doc_map(&d, res) != 0 : doc_over_limit(&d, d.in_len, res) != 0)
        goto out;
    if (doc_hash(&d, res) != 0)
        goto out;
    if (doc_cached(&d, res) != 0)
        goto out;
    (void)doc_process(&d, res);

out:
    if (d.map != NULL)
        munmap(d.map, d.in_len);
    if (d.fd >= 0)
        close(d.fd);
    bp_doc_free(&d.doc);
    free(d.result_key);
    free(d.chunks_key);
    free(d.tmp_key);
    bp_docdata_free(&d.data);
}
