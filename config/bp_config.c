/* bp_config.c -- bp_config_load(): one libconfig file into one immutable bp_config.
 *
 * The walk is driven by the key table (bp_config_keys.c): each group's members are looked
 * up there, so a member that is not in the table is an unknown key -- an error, with a "did
 * you mean" when a known key is close, because a typo must not silently change behaviour.
 * Defaults are stored first, then the file's values over them, then bp_load_finish()
 * (bp_config_finish.c) checks what spans several keys and reads the secrets.
 *
 * Errors are one line, "FILE:LINE: key.path: what is wrong; what to do", and the first one
 * stops the load. All memory comes from one arena, so a failed load frees everything at
 * once and a good one is freed by bp_config_free(). No libconfig type leaves this
 * directory: the config_t is destroyed before bp_config_load() returns. */
#include "bp_config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libconfig.h>

#include "bp_config_int.h"

int bp_load_fail(bp_load *ld, const config_setting_t *s, const char *name, const char *fmt, ...)
{
    const char *file = NULL;
    unsigned line = 1;
    char what[400], key[320];
    va_list ap;

    if (s != NULL) {
        file = config_setting_source_file(s);
        line = config_setting_source_line(s);
    }
    if (file == NULL)
        file = ld->file;
    if (line == 0)
        line = 1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (name != NULL && ld->key[0] != '\0')
        snprintf(key, sizeof(key), "%s.%s", ld->key, name);
    else
        snprintf(key, sizeof(key), "%s", name != NULL ? name : ld->key);
    /* an @include'd file is named as written: make it absolute like the main file */
    bp_err_set(ld->err, BP_ERR_CONFIG, 0, "%s%s%s:%u: %s: %s", file[0] == '/' ? "" : ld->dir,
               file[0] == '/' ? "" : "/", file, line, key, what);
    for (char *p = ld->err != NULL ? ld->err->msg : NULL; p != NULL && *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?'; /* a value quoted in the message must not break the one line */
    return -1;
}

/* How a libconfig value is described in "must be X, not Y" messages. */
static const char *type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP:
        return "a group { }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "a number";
    case CONFIG_TYPE_FLOAT:
        return "a number with a fraction";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array [ ]";
    case CONFIG_TYPE_LIST:
        return "a list ( )";
    }
    return "nothing";
}

int bp_load_string(bp_load *ld, const config_setting_t *s, const char *name, const char **out)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return bp_load_fail(ld, s, name,
                            "must be a string in double quotes, not %s; write %s = "
                            "\"...\";",
                            type_name(s), name);
    *out = config_setting_get_string(s);
    return 0;
}

char *bp_load_path(bp_load *ld, const char *value)
{
    size_t dlen, vlen;
    char *p;

    if (value[0] == '/')
        return bp_arena_strdup(ld->arena, value);
    dlen = strlen(ld->dir);
    vlen = strlen(value);
    p = bp_arena_alloc(ld->arena, dlen + vlen + 2);
    if (p == NULL)
        return NULL;
    memcpy(p, ld->dir, dlen);
    p[dlen] = '/';
    memcpy(p + dlen + 1, value, vlen + 1);
    return p;
}

/* libconfig 1.5 silently wraps an integer literal too big for 32 bits (5000000000 reads as
 * 705032704; 4294967297 as 1), which no range check can see. So read the literal back from
 * the source line (name = literal) and compare. Returns 1 when it was wrapped. */
static int literal_wrapped(bp_load *ld, const config_setting_t *s, const char *name)
{
    const char *file = config_setting_source_file(s);
    unsigned line = config_setting_source_line(s), n = 0;
    char path[4096], buf[1024];
    size_t len = strlen(name);
    int wrapped = 0;
    FILE *f;

    if (file == NULL)
        file = ld->file;
    snprintf(path, sizeof(path), "%s%s%s", file[0] == '/' ? "" : ld->dir, file[0] == '/' ? "" : "/",
             file);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    while (n < line && fgets(buf, sizeof(buf), f) != NULL)
        n++;
    fclose(f);
    if (n != line)
        return 0;
    for (const char *p = strstr(buf, name); p != NULL; p = strstr(p + 1, name)) {
        const char *q = p + len;
        long long lit;
        char *end;

        if (p > buf && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        q += strspn(q, " \t");
        if (*q != '=' && *q != ':')
            continue;
        q++;
        q += strspn(q, " \t");
        errno = 0;
        if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X'))
            lit = strtoll(q, &end, 16);
        else
            lit = strtoll(q, &end, 10);
        if (end != q && *end != 'L')
            wrapped = errno == ERANGE || lit != config_setting_get_int(s);
        break;
    }
    return wrapped;
}

static int read_number(bp_load *ld, const bp_config_key *k, const config_setting_t *s, int64_t *out)
{
    int64_t v;

    if (config_setting_type(s) == CONFIG_TYPE_FLOAT)
        return bp_load_fail(ld, s, k->name, "must be a whole number, not %g; drop the fraction",
                            config_setting_get_float(s));
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64)
        return bp_load_fail(ld, s, k->name,
                            "must be a number, not %s; write %s = %lld; (no "
                            "quotes)",
                            type_name(s), k->name, (long long)k->def);
    if (config_setting_type(s) == CONFIG_TYPE_INT && literal_wrapped(ld, s, k->name))
        return bp_load_fail(ld, s, k->name,
                            "the number does not fit in 32 bits and would be misread; write it "
                            "with an L suffix (e.g. 4294967296L) or use a smaller value");
    v = config_setting_get_int64(s);
    if (v < k->min || v > k->max) {
        if (k->max == INT32_MAX || k->max == INT64_MAX)
            return bp_load_fail(ld, s, k->name,
                                "%lld is out of range; use a value of at least "
                                "%lld",
                                (long long)v, (long long)k->min);
        return bp_load_fail(ld, s, k->name, "%lld is out of range; use a value from %lld to %lld",
                            (long long)v, (long long)k->min, (long long)k->max);
    }
    *out = v;
    return 0;
}

/* "document", "exec or plugin": the handler types a key applies to. */
static void types_text(unsigned types, char *buf, size_t size)
{
    const bp_config_key *tk = bp_config_key_find(BP_SCOPE_HANDLER, "type");
    size_t len = 0;

    buf[0] = '\0';
    for (int t = 0; t < 32 && len < size; t++) {
        if ((types & (1u << t)) == 0)
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len > 0 ? " or " : "",
                                bp_config_enum_name(tk, t));
    }
}

static int read_enum(bp_load *ld, const bp_config_key *k, const config_setting_t *s, int *out)
{
    const char *v;
    char names[128];
    size_t len = 0;

    if (bp_load_string(ld, s, k->name, &v) != 0)
        return -1;
    for (const bp_key_enum *e = k->enums; e->name != NULL; e++) {
        if (strcmp(e->name, v) == 0) {
            *out = e->value;
            return 0;
        }
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s\"%s\"",
                                len > 0 ? (e[1].name != NULL ? ", " : " or ") : "", e->name);
        if (len >= sizeof(names))
            break;
    }
    return bp_load_fail(ld, s, k->name, "unknown value \"%s\"; use %s", v, names);
}

int bp_load_value(bp_load *ld, const bp_config_key *k, const config_setting_t *s, void *base)
{
    void *field = bp_config_key_field(base, k);
    int64_t n;

    if (k->scope == BP_SCOPE_HANDLER && k->types != 0 &&
        (k->types & BP_HT(((bp_handler_config *)base)->type)) == 0) {
        char types[96];

        types_text(k->types, types, sizeof(types));
        return bp_load_fail(ld, s, k->name,
                            "applies only to %s handlers, not to type \"%s\"; remove it or "
                            "change the type",
                            types, bp_handler_type_name(((bp_handler_config *)base)->type));
    }
    switch (k->kind) {
    case BP_KEY_GROUP: {
        size_t len = strlen(ld->key);
        int rc;

        if (!config_setting_is_group(s))
            return bp_load_fail(ld, s, k->name, "must be a group, not %s; write %s = { ... };",
                                type_name(s), k->name);
        snprintf(ld->key + len, sizeof(ld->key) - len, "%s%s", len > 0 ? "." : "", k->name);
        rc = bp_load_group(ld, s, k->child, base);
        if (rc == 0)
            rc = bp_load_required(ld, s, k->child);
        ld->key[len] = '\0';
        return rc;
    }
    case BP_KEY_INT:
        if (read_number(ld, k, s, &n) != 0)
            return -1;
        *(int *)field = (int)n;
        return 0;
    case BP_KEY_INT64:
        if (read_number(ld, k, s, &n) != 0)
            return -1;
        *(int64_t *)field = n;
        return 0;
    case BP_KEY_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL)
            return bp_load_fail(ld, s, k->name, "must be true or false (no quotes), not %s",
                                type_name(s));
        *(bool *)field = config_setting_get_bool(s) != 0;
        return 0;
    case BP_KEY_STRING: {
        const char *v;
        char *copy = NULL;

        if (bp_load_string(ld, s, k->name, &v) != 0)
            return -1;
        if (v[0] == '\0' && (k->flags & BP_KEYF_NONEMPTY))
            return bp_load_fail(ld, s, k->name, "is empty; give a value or remove the key");
        if (v[0] != '\0') {
            copy = (k->flags & BP_KEYF_PATH) ? bp_load_path(ld, v) : bp_arena_strdup(ld->arena, v);
            if (copy == NULL)
                return bp_load_fail(ld, s, k->name, "out of memory");
        }
        *(char **)field = copy; /* "" means "none": NULL */
        return 0;
    }
    case BP_KEY_ENUM:
        return read_enum(ld, k, s, (int *)field);
    case BP_KEY_SPECIAL:
        return k->parse(ld, k, s, base);
    }
    return bp_load_fail(ld, s, k->name, "internal error: key kind %d", (int)k->kind);
}

/* Levenshtein distance, for "did you mean". Key names are short. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(size_t) * (lb + 1));
    }
    return prev[lb];
}

static int unknown_key(bp_load *ld, const config_setting_t *m, bp_key_scope scope)
{
    const char *name = config_setting_name(m);
    const bp_config_key *best = NULL, *elsewhere = NULL;
    size_t best_d = 99, limit;
    char keys[300];
    size_t len = 0;

    if (name == NULL)
        name = "?";
    limit = strlen(name) < 6 ? 1 : strlen(name) / 3 + 1;
    for (size_t i = 0; i < bp_config_n_keys; i++) {
        const bp_config_key *k = &bp_config_keys[i];

        if (k->scope != scope) {
            if (elsewhere == NULL && strcmp(k->name, name) == 0)
                elsewhere = k;
            continue;
        }
        size_t d = edit_distance(name, k->name);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
        if (len < sizeof(keys))
            len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s", len > 0 ? ", " : "",
                                    k->name);
    }
    if (best != NULL && best_d <= limit)
        return bp_load_fail(ld, m, name, "unknown key; did you mean \"%s\"?", best->name);
    if (elsewhere != NULL)
        return bp_load_fail(ld, m, name, "unknown key here; \"%s\" belongs in %s%s", name,
                            elsewhere->scope == BP_SCOPE_ROOT
                                ? "the top level"
                                : bp_config_scope_name(elsewhere->scope),
                            elsewhere->scope == BP_SCOPE_HANDLER ? " (a queue's handlers)" : "");
    return bp_load_fail(ld, m, name, "unknown key; the keys of %s are: %s",
                        scope == BP_SCOPE_ROOT ? "the top level" : bp_config_scope_name(scope),
                        keys);
}

int bp_load_group(bp_load *ld, const config_setting_t *s, bp_key_scope scope, void *base)
{
    int n = config_setting_length(s);

    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        const bp_config_key *k = bp_config_key_find(scope, config_setting_name(m));

        if (k == NULL)
            return unknown_key(ld, m, scope);
        if (bp_load_value(ld, k, m, base) != 0)
            return -1;
    }
    return 0;
}

int bp_load_defaults(bp_load *ld, bp_key_scope scope, void *base)
{
    for (size_t i = 0; i < bp_config_n_keys; i++) {
        const bp_config_key *k = &bp_config_keys[i];
        void *field = bp_config_key_field(base, k);

        if (k->scope != scope)
            continue;
        switch (k->kind) {
        case BP_KEY_INT:
        case BP_KEY_ENUM:
            *(int *)field = (int)k->def;
            break;
        case BP_KEY_INT64:
            *(int64_t *)field = k->def;
            break;
        case BP_KEY_BOOL:
            *(bool *)field = k->def != 0;
            break;
        case BP_KEY_STRING:
            if (k->def_str != NULL && k->def_str[0] != '\0') {
                *(char **)field = bp_arena_strdup(ld->arena, k->def_str);
                if (*(char **)field == NULL)
                    return -1;
            } else {
                *(char **)field = NULL;
            }
            break;
        case BP_KEY_SPECIAL:
            if (k->flags & BP_KEYF_INTDEF)
                *(int *)field = (int)k->def;
            break;
        case BP_KEY_GROUP:
            break;
        }
    }
    return 0;
}

int bp_load_required(bp_load *ld, const config_setting_t *s, bp_key_scope scope)
{
    for (size_t i = 0; i < bp_config_n_keys; i++) {
        const bp_config_key *k = &bp_config_keys[i];

        if (k->scope == scope && (k->flags & BP_KEYF_REQUIRED) &&
            config_setting_get_member(s, k->name) == NULL)
            return bp_load_fail(ld, s, k->name, "missing; add %s = ...; (%s)", k->name, k->doc);
    }
    return 0;
}

/* Read the file into lc, turning libconfig's failure into our one-line error. */
static int read_file(config_t *lc, const char *abs, const char *dir, bp_err *err)
{
    const char *efile;

    struct stat st;

    if (stat(abs, &st) != 0) {
        int e = errno;
        bp_err_set(err, BP_ERR_CONFIG, e,
                   "%s: cannot read the configuration: %s; give a "
                   "readable file with -c",
                   abs, strerror(e));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "%s: cannot read the configuration: not a regular "
                   "file; give the configuration file itself with -c",
                   abs);
        return -1;
    }
    errno = 0;
    if (config_read_file(lc, abs) == CONFIG_TRUE)
        return 0;
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO) {
        int e = errno != 0 ? errno : EIO;
        bp_err_set(err, BP_ERR_CONFIG, e,
                   "%s: cannot read the configuration: %s; check the "
                   "file's permissions",
                   abs, strerror(e));
        return -1;
    }
    efile = config_error_file(lc) != NULL ? config_error_file(lc) : abs;
    bp_err_set(err, BP_ERR_CONFIG, 0,
               "%s%s%s:%d: %s; fix the libconfig syntax there or just before it (key = value; "
               "groups in { }, lists in ( ), strings in double quotes)",
               efile[0] == '/' ? "" : dir, efile[0] == '/' ? "" : "/", efile, config_error_line(lc),
               config_error_text(lc));
    return -1;
}

int bp_config_load(bp_config **out, const char *path, bp_err *err)
{
    bp_load ld = {.err = err};
    config_t lc;
    char *abs, *dir = NULL;
    int rc = -1;

    abs = realpath(path, NULL);
    if (abs == NULL) {
        int e = errno;
        bp_err_set(err, BP_ERR_CONFIG, e,
                   "%s: cannot read the configuration: %s; give an "
                   "existing file with -c",
                   path, strerror(e));
        return -1;
    }
    config_init(&lc);
    dir = strdup(abs);
    ld.arena = bp_arena_new();
    if (dir == NULL || ld.arena == NULL ||
        (ld.cfg = bp_arena_alloc(ld.arena, sizeof(bp_config))) == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, ENOMEM, "%s: out of memory loading the configuration", abs);
        goto out;
    }
    ld.dir = dirname(dir);
    config_set_include_dir(&lc, ld.dir); /* @include "x.conf" is relative to this file */
    if (read_file(&lc, abs, ld.dir, err) != 0)
        goto out;
    ld.file = ld.cfg->path = bp_arena_strdup(ld.arena, abs);
    ld.cfg->arena = ld.arena;
    ld.root = config_root_setting(&lc);
    if (ld.cfg->path == NULL || bp_load_defaults(&ld, BP_SCOPE_REDIS, ld.cfg) != 0 ||
        bp_load_defaults(&ld, BP_SCOPE_TLS, ld.cfg) != 0 ||
        bp_load_defaults(&ld, BP_SCOPE_POOL, ld.cfg) != 0 ||
        bp_load_defaults(&ld, BP_SCOPE_LOG, ld.cfg) != 0 ||
        bp_load_defaults(&ld, BP_SCOPE_METRICS, ld.cfg) != 0) {
        bp_err_set(err, BP_ERR_CONFIG, ENOMEM, "%s: out of memory loading the configuration", abs);
        goto out;
    }
    if (bp_load_group(&ld, ld.root, BP_SCOPE_ROOT, ld.cfg) != 0 ||
        bp_load_required(&ld, ld.root, BP_SCOPE_ROOT) != 0 || bp_load_finish(&ld) != 0)
        goto out;
    *out = ld.cfg;
    ld.arena = NULL; /* now owned by the config */
    rc = 0;

out:
    bp_arena_free(ld.arena);
    config_destroy(&lc);
    free(dir);
    free(abs);
    return rc;
}

void bp_config_free(bp_config *cfg)
{
    if (cfg == NULL)
        return;
    bp_arena_free(cfg->arena); /* cfg itself lives in the arena */
}
