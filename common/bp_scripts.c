/* bp_scripts.c -- the embedded Lua scripts: their SHA-1s, SCRIPT LOAD, EVALSHA with an
 * EVAL fallback.
 *
 * The table of bp_script records is built once per process (pthread_once) from the
 * generated bp_script_sources and never changes afterwards, so lookups need no lock and
 * the pointers bp_script_get() returns stay valid for the life of the process (also in
 * children after fork). EVALSHA is tried first because it sends 40 bytes instead of the
 * whole script; NOSCRIPT (a restarted Redis, SCRIPT FLUSH, a replica promoted) costs one
 * EVAL, which also caches the script on the server again. */
#include "bp_scripts.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bp_conn.h"

#define BP_SCRIPT_ARGV_STACK 32 /* EVALSHA argument vectors up to this size need no malloc */

static bp_script *scripts; /* one per bp_script_sources entry; built once */
static size_t n_scripts;   /* entries in scripts */
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

static void scripts_sha1(const char *src, size_t len, char hex[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char digits[] = "0123456789abcdef";

    if (EVP_Digest(src, len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) {
        hex[0] = '\0'; /* never matches: EVALSHA then fails over to EVAL */
        return;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[40] = '\0';
}

static void scripts_init(void)
{
    size_t n = 0;

    while (bp_script_sources[n].name != NULL)
        n++;
    scripts = calloc(n > 0 ? n : 1, sizeof(*scripts));
    if (scripts == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        scripts[i].name = bp_script_sources[i].name;
        scripts[i].source = bp_script_sources[i].source;
        scripts[i].len = bp_script_sources[i].len;
        scripts_sha1(scripts[i].source, scripts[i].len, scripts[i].sha1);
    }
    n_scripts = n;
}

const bp_script *bp_script_get(const char *name)
{
    pthread_once(&scripts_once, scripts_init);
    for (size_t i = 0; i < n_scripts; i++) {
        if (strcmp(scripts[i].name, name) == 0)
            return &scripts[i];
    }
    return NULL;
}

int bp_scripts_load_all(bp_conn *c, bp_err *err)
{
    size_t appended = 0;
    int rv = 0;

    pthread_once(&scripts_once, scripts_init);
    for (size_t i = 0; i < n_scripts; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", scripts[i].source};
        size_t argvlen[] = {6, 4, scripts[i].len};

        if (bp_conn_append_argv(c, 3, argv, argvlen, err) != 0)
            return -1;
        appended++;
    }
    /* one round trip for all of them; read every reply even after a failure */
    for (size_t i = 0; i < appended; i++) {
        redisReply *r = NULL;
        bp_err rerr = {0};

        if (bp_conn_read_reply(c, &r, -1, -1, &rerr) != 0) {
            if (rv == 0)
                *err = rerr;
            return -1;
        }
        if (rv == 0 && r->type == REDIS_REPLY_ERROR) {
            bp_err_set(err, BP_ERR_REPLY, 0, "SCRIPT LOAD of '%s.lua' failed: %.*s",
                       scripts[i].name, (int)r->len, r->str);
            rv = -1;
        } else if (rv == 0 &&
                   (r->type != REDIS_REPLY_STRING || strcmp(r->str, scripts[i].sha1) != 0)) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "SCRIPT LOAD of '%s.lua' returned an unexpected SHA-1 (want %s)",
                       scripts[i].name, scripts[i].sha1);
            rv = -1;
        }
        freeReplyObject(r);
    }
    return rv;
}

/* Build "VERB sha|source numkeys argv..." in args/lens (size argc + 3). */
static void scripts_fill_argv(const char **args, size_t *lens, const char *verb, const char *body,
                              size_t body_len, const char *numkeys, int argc, const char **argv,
                              const size_t *argvlen)
{
    args[0] = verb;
    lens[0] = strlen(verb);
    args[1] = body;
    lens[1] = body_len;
    args[2] = numkeys;
    lens[2] = strlen(numkeys);
    for (int i = 0; i < argc; i++) {
        args[3 + i] = argv[i];
        lens[3 + i] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
    }
}

/* Run EVALSHA (or EVAL when eval is true) or, with append, only queue it. */
static redisReply *scripts_call(bp_conn *c, const bp_script *s, bool eval, bool append, int numkeys,
                                int argc, const char **argv, const size_t *argvlen, int *append_rv,
                                bp_err *err)
{
    const char *stack_args[BP_SCRIPT_ARGV_STACK];
    size_t stack_lens[BP_SCRIPT_ARGV_STACK];
    const char **args = stack_args;
    size_t *lens = stack_lens;
    char nk[16];
    redisReply *r = NULL;

    if (argc + 3 > BP_SCRIPT_ARGV_STACK) {
        args = malloc(sizeof(*args) * (size_t)(argc + 3));
        lens = malloc(sizeof(*lens) * (size_t)(argc + 3));
        if (args == NULL || lens == NULL) {
            bp_err_set(err, BP_ERR_IO, ENOMEM, "out of memory running script '%s'", s->name);
            *append_rv = -1;
            goto out;
        }
    }
    snprintf(nk, sizeof(nk), "%d", numkeys);
    if (eval)
        scripts_fill_argv(args, lens, "EVAL", s->source, s->len, nk, argc, argv, argvlen);
    else
        scripts_fill_argv(args, lens, "EVALSHA", s->sha1, 40, nk, argc, argv, argvlen);
    if (append)
        *append_rv = bp_conn_append_argv(c, argc + 3, args, lens, err);
    else
        r = bp_conn_command_argv(c, argc + 3, args, lens, err);
out:
    if (args != stack_args) {
        free(args);
        free(lens);
    }
    return r;
}

redisReply *bp_script_run(bp_conn *c, const bp_script *s, int numkeys, int argc, const char **argv,
                          const size_t *argvlen, bp_err *err)
{
    bp_err local;
    redisReply *r;
    int unused = 0;

    if (err == NULL)
        err = &local; /* we look at the kind and text of the error below */
    r = scripts_call(c, s, false, false, numkeys, argc, argv, argvlen, &unused, err);
    if (r != NULL || err->kind != BP_ERR_REPLY || strncmp(err->msg, "NOSCRIPT", 8) != 0)
        return r;
    bp_err_clear(err);
    return scripts_call(c, s, true, false, numkeys, argc, argv, argvlen, &unused, err);
}

int bp_script_append(bp_conn *c, const bp_script *s, int numkeys, int argc, const char **argv,
                     const size_t *argvlen, bp_err *err)
{
    int rv = 0;

    scripts_call(c, s, false, true, numkeys, argc, argv, argvlen, &rv, err);
    return rv;
}
