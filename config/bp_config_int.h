/* bp_config_int.h -- private to config/: the arena that owns a loaded configuration, the
 * key table (every key, its type, range and default, in one place) and helpers shared by
 * the loader, the URL parser and the printer.
 *
 * Nothing here is for master/ or worker/: they see only bp_config.h. */
#ifndef BP_CONFIG_INT_H
#define BP_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bp_config.h"

/* ---- arena: one config generation is allocated and freed as a unit ---- */

typedef struct bp_arena bp_arena;

bp_arena *bp_arena_new(void);                      /* NULL when out of memory */
void *bp_arena_alloc(bp_arena *a, size_t n);       /* zeroed, aligned; NULL when out of memory */
char *bp_arena_strdup(bp_arena *a, const char *s); /* NULL s gives NULL */
void bp_arena_free(bp_arena *a);                   /* NULL is a no-op; wipes secrets too */

/* ---- the key table ---- */

/* Where a key lives: the group of the file it belongs to. */
typedef enum bp_key_scope {
    BP_SCOPE_ROOT,     /* top level */
    BP_SCOPE_REDIS,    /* redis = { } */
    BP_SCOPE_TLS,      /* redis.tls = { } */
    BP_SCOPE_POOL,     /* pool = { } */
    BP_SCOPE_QUEUE,    /* each group of queues = ( ) */
    BP_SCOPE_HANDLER,  /* each group of a queue's handlers = ( ) */
    BP_SCOPE_LOG,      /* log = { } */
    BP_SCOPE_METRICS,  /* metrics = { } */
    BP_SCOPE_LIMITER,  /* a queue's limiter = { } */
    BP_SCOPE_QMETRICS, /* a queue's metrics = { } (Bull's metrics keys) */
    BP_SCOPE_SANDBOX,  /* a document handler's sandbox = { } (fields in bp_handler_config) */
    BP_SCOPE_SENTINEL, /* redis.sentinel = { } */
    BP_SCOPE_CLUSTER,  /* redis.cluster = { } */
} bp_key_scope;

typedef enum bp_key_kind {
    BP_KEY_GROUP,   /* a nested group, parsed with the keys of scope `child` */
    BP_KEY_INT,     /* int field, range [min, max] */
    BP_KEY_INT64,   /* int64_t field, range [min, max] */
    BP_KEY_BOOL,    /* bool field */
    BP_KEY_STRING,  /* char * field; "" stores NULL unless BP_KEYF_NONEMPTY */
    BP_KEY_ENUM,    /* a string from `enums`, stored as its int value */
    BP_KEY_SPECIAL, /* parsed by its own function (URL, password, lists, settings) */
} bp_key_kind;

typedef struct bp_key_enum {
    const char *name; /* as written in the file */
    int value;        /* as stored */
} bp_key_enum;

#define BP_KEYF_REQUIRED 0x01u /* the key must be present */
#define BP_KEYF_NONEMPTY 0x02u /* a string that may not be "" */
#define BP_KEYF_PATH     0x04u /* a file path: made absolute against the config's directory */
#define BP_KEYF_SECRET   0x08u /* printed as "***" */
#define BP_KEYF_INTDEF   0x10u /* BP_KEY_SPECIAL whose default is `def`, stored as an int */

/* Bit for a handler type in bp_config_key.types. */
#define BP_HT(t) (1u << (t))

struct config_setting_t; /* libconfig's, kept out of the other headers */
struct bp_load;          /* the loader's state, in bp_config.c */

typedef struct bp_config_key {
    bp_key_scope scope;       /* the group it belongs to */
    const char *name;         /* key name in that group */
    bp_key_kind kind;         /* how its value is read */
    size_t offset;            /* field offset: in bp_config, bp_queue_config or bp_handler_config */
    int64_t def;              /* default of a number or bool */
    const char *def_str;      /* default of a string, as written in the file (NULL = none) */
    int64_t min, max;         /* accepted range of a number */
    unsigned flags;           /* BP_KEYF_* */
    unsigned types;           /* handler scope: BP_HT() of the types that accept it; 0 = all */
    bp_key_scope child;       /* BP_KEY_GROUP: the scope of its members */
    const bp_key_enum *enums; /* BP_KEY_ENUM: the names, ended by {NULL, 0} */
    int (*parse)(struct bp_load *ld, const struct bp_config_key *k,
                 const struct config_setting_t *s, void *base); /* BP_KEY_SPECIAL */
    const char *doc;                                            /* one line: what it means */
} bp_config_key;

extern const bp_config_key bp_config_keys[]; /* every key, in documentation order */
extern const size_t bp_config_n_keys;        /* entries in bp_config_keys */

/* The group name of a scope as written in messages: "redis.tls", "queues", ... */
const char *bp_config_scope_name(bp_key_scope scope);

/* The name of an enum key's stored value ("?" when unknown). */
const char *bp_config_enum_name(const bp_config_key *k, int value);

/* ---- the loader's state, shared by bp_config.c (the walk) and bp_config_keys.c (the
 * table and the keys that need their own code) ---- */

typedef struct bp_load {
    bp_arena *arena;  /* owns everything the config points to */
    bp_config *cfg;   /* being filled */
    bp_err *err;      /* where the first error goes */
    const char *file; /* absolute path of the file (messages use the setting's own file) */
    const char *dir;  /* its directory: relative paths in the file are taken from here */
    char key[256];    /* key path of the group being read: "queues[0].handlers[1]" */
    struct config_setting_t *root; /* the file's top level (looked up by path at the end) */
} bp_load;

/* The key of scope called name, or NULL. */
const bp_config_key *bp_config_key_find(bp_key_scope scope, const char *name);

/* Read one value s for key k into base (type, range, enum, handler-type checks). */
int bp_load_value(bp_load *ld, const bp_config_key *k, const struct config_setting_t *s,
                  void *base);

/* Fail with "FILE:LINE: <ld->key>.<name>: <message>" (name NULL: the group itself), using
 * the file and line of s (NULL: the file, line 1). Sets ld->err; returns -1. */
int bp_load_fail(bp_load *ld, const struct config_setting_t *s, const char *name, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* Read the members of group s (already type-checked) with the keys of scope into base. */
int bp_load_group(bp_load *ld, const struct config_setting_t *s, bp_key_scope scope, void *base);

/* Store the defaults of every key of scope into base. Returns -1 when out of memory. */
int bp_load_defaults(bp_load *ld, bp_key_scope scope, void *base);

/* Check that the required keys of scope are present in group s. */
int bp_load_required(bp_load *ld, const struct config_setting_t *s, bp_key_scope scope);

/* A key's string value (type-checked). Returns 0, or -1 with the error set. */
int bp_load_string(bp_load *ld, const struct config_setting_t *s, const char *name,
                   const char **out);

/* A path made absolute against the config file's directory, in the arena. */
char *bp_load_path(bp_load *ld, const char *value);

/* Cross-key checks, secrets and environment overrides, after the whole file is read. */
int bp_load_finish(bp_load *ld);

/* The base a key's offset applies to, for the scopes stored in bp_config itself. */
static inline void *bp_config_key_field(void *base, const bp_config_key *k)
{
    return (char *)base + k->offset;
}

/* ---- URL helpers ---- */

/* The URL rebuilt from rc's parts, with "***" for the password when rc->password is set.
 * Returns a malloc'd string, or NULL when out of memory. */
char *bp_url_redact(const bp_redis_config *rc);

#endif /* BP_CONFIG_INT_H */
