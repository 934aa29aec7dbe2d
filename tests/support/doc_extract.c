/* doc_extract.c -- test and bench helper: extract one file with bp_doc_extract() and print
 * the result as JSON on stdout, after a round trip through bp_doc_encode()/bp_doc_decode()
 * (so every test of a format also tests the codec the sandbox uses).
 *
 *   doc_extract [-t TYPE] [-L name=value]... [-c WORDS,OVERLAP] [-q] [-E OUT] FILE
 *
 * -E writes the encoded form (bp_doc_encode) to OUT: seeds for fuzz_doc_decode.
 * -L sets a limit (pages, text, entries, ratio, zipbytes, depth). -c also prints the
 * chunks as the document handler stores them with chunk_format = "json". -q prints only a
 * one-line summary (for the bench: no JSON encoding of the text). A refusal prints
 * {"error": "..."} and exits 2.
 *
 * With BP_DOC_EXTRACT_SANDBOX=1 in the environment the extraction runs in the sandbox, as
 * the document handler runs it (bp_sandbox.h: this binary is then also its own extractor),
 * and the JSON comes from what the confined child sent back: test_sandbox_formats.sh runs
 * every format test through it. -q then adds the sandbox's cost per file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "bp_chunk.h"
#include "bp_doc.h"
#include "bp_docresult.h"
#include "bp_log.h"
#include "bp_sandbox.h"
#include "bp_sandbox_extract.h"

static int set_limit(bp_doc_limits *l, const char *kv)
{
    const char *eq = strchr(kv, '=');
    unsigned long long v;

    if (eq == NULL)
        return -1;
    v = strtoull(eq + 1, NULL, 10);
    if (strncmp(kv, "pages=", 6) == 0)
        l->max_pages = (uint32_t)v;
    else if (strncmp(kv, "text=", 5) == 0)
        l->max_output_bytes = v;
    else if (strncmp(kv, "entries=", 8) == 0)
        l->max_zip_entries = (uint32_t)v;
    else if (strncmp(kv, "ratio=", 6) == 0)
        l->max_zip_ratio = (uint32_t)v;
    else if (strncmp(kv, "zipbytes=", 9) == 0)
        l->max_zip_bytes = v;
    else if (strncmp(kv, "depth=", 6) == 0)
        l->max_depth = (uint32_t)v;
    else if (strncmp(kv, "input=", 6) == 0)
        l->max_input_bytes = v;
    else
        return -1;
    return 0;
}

/* bp_doc_extract() in the sandbox, default limits but these of the document's; returns
 * what bp_doc_extract() would, with the sandbox's cost in *cost_us (wall) and *confine_us */
static int sandboxed(int fd, const char *name, const char *type, const bp_doc_limits *lim,
                     bp_doc *out, bp_err *err, int64_t *wall_us, int64_t *confine_us,
                     uint64_t *cpu_us)
{
    bp_sandbox *sb = bp_sandbox_new(NULL);
    bp_sandbox_limits sl = {
        .memory_bytes = 512u << 20, .cpu_s = 60, .wall_ms = 120000, .output_bytes = 256u << 20};
    bp_sandbox_extract_arg arg;
    bp_sandbox_outcome o;
    int rc = -1;

    bp_log_open(BP_LOG_WARN, NULL, false, BP_LOG_TEXT); /* stderr is for failures only */
    bp_sandbox_extract_arg_set(&arg, lim, type, name);
    if (sb == NULL || bp_sandbox_run(sb, BP_SANDBOX_FN_EXTRACT, fd, &arg, sizeof(arg), &sl, NULL,
                                     NULL, NULL, &o, err) != 0)
        goto out;
    *wall_us = o.wall_us;
    *confine_us = o.confine_us;
    *cpu_us = o.cpu_us;
    if (o.status != BP_SANDBOX_OK)
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s", o.reason);
    else
        rc = bp_doc_decode(o.output, o.output_len, lim, out, err);
    free(o.output);
out:
    bp_sandbox_free(sb);
    return rc;
}

int main(int argc, char **argv)
{
    const char *type = NULL;
    bp_doc_limits lim = {0};
    bp_doc doc, back;
    bp_err err = {0};
    int opt, fd, chunk_words = 0, overlap = 0;
    bool quiet = false;
    bool in_sandbox = getenv("BP_DOC_EXTRACT_SANDBOX") != NULL;
    int64_t wall_us = 0, confine_us = 0;
    uint64_t cpu_us = 0;
    const char *enc_out = NULL;
    char *enc;
    size_t enc_len;
    const char *profile;

    if (bp_sandbox_is_extractor(argc, argv, &profile))
        return bp_sandbox_server_main(bp_sandbox_extract_fns, bp_sandbox_extract_n_fns,
                                      bp_sandbox_extract_init, profile);

    while ((opt = getopt(argc, argv, "t:L:c:qE:")) != -1) {
        if (opt == 't')
            type = optarg;
        else if (opt == 'L' && set_limit(&lim, optarg) == 0)
            continue;
        else if (opt == 'c' && sscanf(optarg, "%d,%d", &chunk_words, &overlap) == 2)
            continue;
        else if (opt == 'q')
            quiet = true;
        else if (opt == 'E')
            enc_out = optarg;
        else if (opt != 't') {
            fprintf(stderr, "usage: doc_extract [-t TYPE] [-L k=v] [-c W,O] [-q] FILE\n");
            return 64;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: doc_extract [-t TYPE] [-L k=v] [-c W,O] [-q] FILE\n");
        return 64;
    }
    fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        perror(argv[optind]);
        return 66;
    }
    if (in_sandbox ? sandboxed(fd, argv[optind], type, &lim, &doc, &err, &wall_us, &confine_us,
                               &cpu_us) != 0
                   : bp_doc_extract(fd, argv[optind], type, &lim, NULL, NULL, &doc, &err) != 0) {
        json_t *e = json_pack("{s:s}", "error", err.msg);
        char *s = json_dumps(e, JSON_COMPACT);
        fprintf(stdout, "%s\n", s);
        free(s);
        json_decref(e);
        close(fd);
        return 2;
    }
    close(fd);
    if (bp_doc_encode(&doc, &enc, &enc_len) != 0 ||
        bp_doc_decode(enc, enc_len, &lim, &back, &err) != 0) {
        fprintf(stderr, "codec round trip failed: %s\n", err.msg);
        return 70;
    }
    if (enc_out != NULL) {
        FILE *f = fopen(enc_out, "wb");
        if (f == NULL || fwrite(enc, 1, enc_len, f) != enc_len || fclose(f) != 0) {
            perror(enc_out);
            return 73;
        }
    }
    free(enc);
    bp_doc_free(&doc);
    if (quiet) {
        fprintf(stdout, "format=%s pages=%zu words=%zu bytes=%zu", bp_doc_format_name(back.format),
                back.n_pages, back.text.words, back.text.len);
        if (in_sandbox)
            fprintf(stdout, " sandbox_wall_us=%lld confine_us=%lld child_cpu_us=%llu",
                    (long long)wall_us, (long long)confine_us, (unsigned long long)cpu_us);
        fprintf(stdout, "\n");
        bp_doc_free(&back);
        return 0;
    }
    json_t *o = json_object(), *pages = json_array(), *empty = json_array(), *heads = json_array();
    json_object_set_new(o, "format", json_string(bp_doc_format_name(back.format)));
    json_object_set_new(o, "encoding", json_string(back.encoding));
    json_object_set_new(o, "title", back.title ? json_string(back.title) : json_null());
    json_object_set_new(o, "author", back.author ? json_string(back.author) : json_null());
    json_object_set_new(o, "words", json_integer((json_int_t)back.text.words));
    json_object_set_new(o, "text", json_stringn(back.text.buf, back.text.len));
    for (size_t i = 0; i < back.n_pages; i++)
        json_array_append_new(pages, json_integer((json_int_t)back.pages[i]));
    for (size_t i = 0; i < back.n_empty; i++)
        json_array_append_new(empty, json_integer(back.empty_pages[i]));
    for (size_t i = 0; i < back.n_headings; i++)
        json_array_append_new(
            heads, json_pack("{s:I,s:i,s:s}", "off", (json_int_t)back.headings[i].off, "level",
                             back.headings[i].level, "title", back.headings[i].title));
    json_object_set_new(o, "pages", pages);
    json_object_set_new(o, "empty_pages", empty);
    json_object_set_new(o, "headings", heads);
    if (chunk_words > 0) {
        json_t *chunks = json_array();
        bp_chunker ch;
        bp_chunk_label label;
        size_t off, len;
        bp_chunk_label_init(&label, &back);
        size_t n_bounds, *bounds = bp_doc_heading_offsets(&back, &n_bounds);
        if (bp_chunker_init(&ch, back.text.buf, back.text.len, chunk_words, overlap) != 0)
            return 70;
        bp_chunker_set_bounds(&ch, bounds, n_bounds); /* as the document handler does */
        while (bp_chunker_next(&ch, &off, &len)) {
            size_t jl;
            char *j = bp_chunk_json(&label, off, len, &jl);
            json_array_append_new(chunks, json_loadb(j, jl, 0, NULL));
            free(j);
        }
        bp_chunker_fini(&ch);
        free(bounds);
        json_object_set_new(o, "chunks", chunks);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(stdout, "%s\n", s);
    free(s);
    json_decref(o);
    bp_doc_free(&back);
    return 0;
}
