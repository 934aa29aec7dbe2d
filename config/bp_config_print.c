/* bp_config_print.c -- the effective configuration in libconfig syntax, for `bullpen check`.
 *
 * Driven by the same key table as the loader, so every key appears with the value in force
 * (defaults included) and a new key is printed without touching this file. Secrets -- the
 * Redis password and the control key -- are printed as "***" and nothing else: the output
 * may be pasted into a ticket. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bp_config.h"
#include "bp_config_int.h"

#define BP_REDACTED "***" /* what a secret looks like in any output */

static void indent(FILE *out, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", out);
}

/* A libconfig string literal: quotes, backslashes and control bytes escaped. */
static void print_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void print_group(FILE *out, const bp_config *cfg, bp_key_scope scope, const void *base,
                        int depth);

static void print_handler(FILE *out, const bp_handler_config *h, int depth)
{
    indent(out, depth);
    fputs("{\n", out);
    print_group(out, NULL, BP_SCOPE_HANDLER, h, depth + 1);
    indent(out, depth);
    fputs("}", out);
}

static void print_queue(FILE *out, const bp_queue_config *q, int depth)
{
    indent(out, depth);
    fputs("{\n", out);
    print_group(out, NULL, BP_SCOPE_QUEUE, q, depth + 1);
    indent(out, depth);
    fputs("}", out);
}

/* The keys parsed by their own code. */
static void print_special(FILE *out, const bp_config *cfg, const bp_config_key *k, const void *base,
                          int depth)
{
    if (strcmp(k->name, "url") == 0) {
        /* with url_env the URL is shown as a comment: url and url_env exclude each other, and
         * the output must load again */
        fputs(cfg->redis.url_env != NULL ? "# url = " : "url = ", out);
        print_string(out, cfg->redis.url_redacted);
        fputs(";", out);
        if (cfg->redis.url_from != NULL)
            fprintf(out, " # from the environment variable %s", cfg->redis.url_from);
        fputs("\n", out);
    } else if (strcmp(k->name, "password") == 0) {
        if (cfg->redis.password == NULL)
            fputs("# password: none (no AUTH)\n", out);
        else if (cfg->redis.password_file != NULL)
            fputs("# password: read from password_file\n", out);
        else
            fputs("password = \"" BP_REDACTED "\";\n", out);
    } else if (strcmp(k->name, "nodes") == 0) {
        const bp_redis_config *rc = &cfg->redis;
        const bp_redis_node *nodes =
            k->scope == BP_SCOPE_SENTINEL ? rc->sentinel.nodes : rc->cluster.nodes;
        size_t n = k->scope == BP_SCOPE_SENTINEL ? rc->sentinel.n_nodes : rc->cluster.n_nodes;

        fputs("nodes = [", out);
        for (size_t i = 0; i < n; i++)
            fprintf(out, strchr(nodes[i].host, ':') != NULL ? "%s\"[%s]:%d\"" : "%s\"%s:%d\"",
                    i > 0 ? ", " : " ", nodes[i].host, nodes[i].port);
        fputs(" ];\n", out);
    } else if (strcmp(k->name, "level") == 0) {
        fprintf(out, "level = \"%s\";\n", bp_log_level_name(cfg->log.level));
    } else if (strcmp(k->name, "queues") == 0) {
        fputs("queues = (\n", out);
        for (size_t i = 0; i < cfg->n_queues; i++) {
            print_queue(out, &cfg->queues[i], depth + 1);
            fputs(i + 1 < cfg->n_queues ? ",\n" : "\n", out);
        }
        indent(out, depth);
        fputs(");\n", out);
    } else if (strcmp(k->name, "handlers") == 0) {
        const bp_queue_config *q = base;

        fputs("handlers = (\n", out);
        for (size_t i = 0; i < q->n_handlers; i++) {
            print_handler(out, &q->handlers[i], depth + 1);
            fputs(i + 1 < q->n_handlers ? ",\n" : "\n", out);
        }
        indent(out, depth);
        fputs(");\n", out);
    } else if (strcmp(k->name, "limiter") == 0) {
        const bp_queue_config *q = base;

        if (q->limiter.max == 0) {
            fputs("# limiter: none (jobs start as fast as workers take them)\n", out);
            return;
        }
        fputs("limiter = {\n", out);
        print_group(out, cfg, BP_SCOPE_LIMITER, q, depth + 1);
        indent(out, depth);
        fprintf(out, "};  # at most %d job%s started per %d ms over all workers%s%s%s\n",
                q->limiter.max, q->limiter.max == 1 ? "" : "s", q->limiter.duration_ms,
                q->limiter.group_key != NULL ? ", per value of data." : "",
                q->limiter.group_key != NULL ? q->limiter.group_key : "",
                "; limited jobs wait in delayed");
    } else if (strcmp(k->name, "metrics") == 0) {
        const bp_queue_config *q = base;

        if (q->metrics_max_points == 0) {
            fputs("# metrics: off (Bull's metrics:completed / metrics:failed not written)\n", out);
            return;
        }
        fputs("metrics = {\n", out);
        print_group(out, cfg, BP_SCOPE_QMETRICS, q, depth + 1);
        indent(out, depth);
        fputs("};\n", out);
    } else if (strcmp(k->name, "argv") == 0) {
        const bp_handler_config *h = base;

        fputs("argv = [", out);
        for (int i = 0; i < h->argc; i++) {
            fputs(i > 0 ? ", " : " ", out);
            print_string(out, h->argv[i]);
        }
        fputs(" ];\n", out);
    } else if (strcmp(k->name, "allowed_dirs") == 0 || strcmp(k->name, "env") == 0) {
        const bp_handler_config *h = base;
        bool dirs = k->name[0] == 'a';
        char *const *v = dirs ? h->allowed_dirs : h->env;
        size_t n = dirs ? h->n_allowed_dirs : h->n_env;

        if (n == 0) {
            fprintf(
                out, "# %s: none%s\n", k->name,
                dirs ? " (jobs naming a file are refused)"
                     : " (the program gets PATH, HOME, LANG, LC_*, TZ, TMPDIR and BULLPEN_JOB_*)");
            return;
        }
        fprintf(out, "%s = [", k->name);
        for (size_t i = 0; i < n; i++) {
            fputs(i > 0 ? ", " : " ", out);
            if (!dirs && strchr(v[i], '=') != NULL) /* a value may be a secret */
                fprintf(out, "\"%.*s=" BP_REDACTED "\"", (int)strcspn(v[i], "="), v[i]);
            else
                print_string(out, v[i]);
        }
        fputs(" ];\n", out);
    } else if (strcmp(k->name, "settings") == 0) {
        const bp_handler_config *h = base;

        fputs("settings = {", out);
        for (size_t i = 0; i < h->n_settings; i++) {
            fprintf(out, " %s = ", h->settings[i].key);
            print_string(out, h->settings[i].value);
            fputc(';', out);
        }
        fputs(" };\n", out);
    }
}

static void print_key(FILE *out, const bp_config *cfg, const bp_config_key *k, const void *base,
                      int depth)
{
    const void *field = (const char *)base + k->offset;

    if (k->kind == BP_KEY_GROUP &&
        ((k->child == BP_SCOPE_SENTINEL && cfg->redis.sentinel.master_name == NULL) ||
         (k->child == BP_SCOPE_CLUSTER && cfg->redis.cluster.n_nodes == 0)))
        return; /* only the topology in use */
    indent(out, depth);
    switch (k->kind) {
    case BP_KEY_GROUP:
        fprintf(out, "%s = {\n", k->name);
        print_group(out, cfg, k->child, base, depth + 1);
        indent(out, depth);
        fputs("};\n", out);
        return;
    case BP_KEY_INT:
        fprintf(out, "%s = %d;\n", k->name, *(const int *)field);
        return;
    case BP_KEY_INT64:
        fprintf(out, "%s = %" PRId64 "%s;\n", k->name, *(const int64_t *)field,
                *(const int64_t *)field > INT32_MAX ? "L" : "");
        return;
    case BP_KEY_BOOL:
        fprintf(out, "%s = %s;\n", k->name, *(const bool *)field ? "true" : "false");
        return;
    case BP_KEY_STRING:
        fprintf(out, "%s = ", k->name);
        if ((k->flags & BP_KEYF_SECRET) && *(char *const *)field != NULL)
            fputs("\"" BP_REDACTED "\"", out);
        else
            print_string(out, *(char *const *)field);
        fputs(";\n", out);
        return;
    case BP_KEY_ENUM:
        fprintf(out, "%s = \"%s\";\n", k->name, bp_config_enum_name(k, *(const int *)field));
        return;
    case BP_KEY_SPECIAL:
        print_special(out, cfg, k, base, depth);
        return;
    }
}

static void print_group(FILE *out, const bp_config *cfg, bp_key_scope scope, const void *base,
                        int depth)
{
    for (size_t i = 0; i < bp_config_n_keys; i++) {
        const bp_config_key *k = &bp_config_keys[i];

        if (k->scope != scope)
            continue;
        if (scope == BP_SCOPE_HANDLER && k->types != 0 &&
            (k->types & BP_HT(((const bp_handler_config *)base)->type)) == 0)
            continue; /* only the keys that apply to this handler's type */
        print_key(out, cfg, k, base, depth);
    }
}

void bp_config_print(const bp_config *cfg, FILE *out)
{
    fputs("# effective configuration of ", out);
    fputs(cfg->path != NULL ? cfg->path : "(unknown file)", out);
    fputs(" (defaults included, secrets shown as " BP_REDACTED ")\n", out);
    print_group(out, cfg, BP_SCOPE_ROOT, cfg, 0);
    fputs("# pool.control_key: ", out);
    fputs(cfg->pool.control_key != NULL ? BP_REDACTED " (loaded)\n"
                                        : "none (bullpen ctl commands are refused)\n",
          out);
}
