/* bp_ctl_msg.c -- signing and verifying control messages, and the replies' JSON; see
 * bp_ctl_msg.h for the wire format.
 *
 * Verification order is deliberate: shape first (cheap, no secrets), then the MAC compared in
 * constant time, then the clock, then the nonce cache. Only authentic, fresh messages reach
 * the cache, so someone who can PUBLISH but has no key can neither replay old commands (stale
 * or already seen) nor evict nonces from the cache. The cache refuses new commands rather
 * than forget a nonce that could still be replayed (BP_CTL_FLOODED). */
#include "bp_ctl_msg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "bp_hex.h"

#define BP_CTL_MAC_LEN 32 /* SHA-256 */

static const char *const cmd_names[] = {"status", "pause",    "resume", "scale",
                                        "reload", "shutdown", "cancel"};

const char *bp_ctl_cmd_name(bp_ctl_cmd cmd)
{
    if ((size_t)cmd >= sizeof(cmd_names) / sizeof(cmd_names[0]))
        return "?";
    return cmd_names[cmd];
}

int bp_ctl_cmd_parse(const char *name, bp_ctl_cmd *out)
{
    for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++) {
        if (strcmp(name, cmd_names[i]) == 0) {
            *out = (bp_ctl_cmd)i;
            return 0;
        }
    }
    return -1;
}

int bp_ctl_scale_parse(const char *arg, char *queue, size_t queue_cap, int *n, bp_err *err)
{
    const char *eq = strrchr(arg, '=');
    const char *num = eq != NULL ? eq + 1 : arg;
    size_t qlen = eq != NULL ? (size_t)(eq - arg) : 0;
    char *end = NULL;
    long v;

    if (eq != NULL && qlen == 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "scale '%s': the queue name before '=' is empty", arg);
        return -1;
    }
    if (qlen + 1 > queue_cap) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "scale '%s': queue name too long", arg);
        return -1;
    }
    errno = 0;
    v = strtol(num, &end, 10);
    if (num[0] < '0' || num[0] > '9' || *end != '\0' || errno != 0 || v < 0 ||
        v > BP_CTL_SCALE_MAX) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "scale needs a number of workers from 0 to %d, e.g. 'scale 8' or "
                   "'scale document-processing=8', not '%s'",
                   BP_CTL_SCALE_MAX, arg);
        return -1;
    }
    memcpy(queue, arg, qlen);
    queue[qlen] = '\0';
    *n = (int)v;
    return 0;
}

/* Does arg suit cmd? */
static int check_arg(bp_ctl_cmd cmd, const char *arg, bp_err *err)
{
    char queue[BP_CTL_ARG_MAX];
    int n;

    switch (cmd) {
    case BP_CTL_SCALE:
        return bp_ctl_scale_parse(arg, queue, sizeof(queue), &n, err);
    case BP_CTL_CANCEL:
        if (arg[0] == '\0') {
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "cancel needs a job id, e.g. 'cancel 812'");
            return -1;
        }
        return 0;
    default:
        if (arg[0] != '\0') {
            bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s takes no argument, got '%s'",
                       bp_ctl_cmd_name(cmd), arg);
            return -1;
        }
        return 0;
    }
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Decode exactly 2*len hex digits. Returns 0, or -1 when text is not that. */
static int hex_decode(const char *text, unsigned char *out, size_t len)
{
    if (strlen(text) != 2 * len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = bp_hex_digit(text[2 * i]);
        int lo = bp_hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static bool is_nonce(const char *s)
{
    if (strlen(s) != BP_CTL_NONCE_HEX)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    }
    return true;
}

int bp_ctl_msg_init(bp_ctl_msg *m, bp_ctl_cmd cmd, const char *arg, const char *host,
                    const char *control_channel, int64_t now_ms, bp_err *err)
{
    unsigned char raw[BP_CTL_NONCE_HEX / 2];
    bp_ctl_msg tmp;

    memset(&tmp, 0, sizeof(tmp));
    if (arg == NULL)
        arg = "";
    if (host == NULL)
        host = "";
    if (control_channel == NULL || control_channel[0] == '\0')
        control_channel = BP_CTL_DEFAULT_CHANNEL;
    if (check_arg(cmd, arg, err) != 0)
        return -1;
    if (strlen(arg) >= sizeof(tmp.arg) || strlen(host) >= sizeof(tmp.host)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s: argument or host name too long",
                   bp_ctl_cmd_name(cmd));
        return -1;
    }
    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        bp_err_set_ssl(err, BP_ERR_IO, "cannot make a nonce for the ctl message");
        return -1;
    }
    tmp.cmd = cmd;
    snprintf(tmp.arg, sizeof(tmp.arg), "%s", arg);
    snprintf(tmp.host, sizeof(tmp.host), "%s", host);
    tmp.ts = now_ms;
    hex_encode(raw, sizeof(raw), tmp.nonce);
    if ((size_t)snprintf(tmp.reply, sizeof(tmp.reply), BP_CTL_REPLY_FMT, control_channel,
                         tmp.nonce) >= sizeof(tmp.reply)) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "pool.control_channel '%s' is too long", control_channel);
        return -1;
    }
    *m = tmp;
    return 0;
}

/* Append "|<len>:<value>" to buf. Returns the new length, or cap when it did not fit. */
static size_t canon_field(char *buf, size_t cap, size_t len, const char *value)
{
    size_t vlen = strlen(value);
    int n;

    if (len >= cap)
        return cap;
    n = snprintf(buf + len, cap - len, "|%zu:", vlen);
    if (n < 0 || (size_t)n >= cap - len || len + (size_t)n + vlen >= cap)
        return cap;
    len += (size_t)n;
    memcpy(buf + len, value, vlen + 1);
    return len + vlen;
}

/* The MAC of m (see the canonical text in bp_ctl_msg.h). Returns 0, or -1. */
static int compute_mac(const unsigned char *key, size_t keylen, const bp_ctl_msg *m,
                       unsigned char mac[BP_CTL_MAC_LEN])
{
    char canon[64 + BP_CTL_ARG_MAX + BP_CTL_HOST_MAX + BP_CTL_NONCE_HEX + BP_CTL_CHANNEL_MAX + 64];
    char ts[32];
    size_t len = 2;
    unsigned int mac_len = 0;

    snprintf(ts, sizeof(ts), "%lld", (long long)m->ts);
    memcpy(canon, "v1", 3);
    len = canon_field(canon, sizeof(canon), len, bp_ctl_cmd_name(m->cmd));
    len = canon_field(canon, sizeof(canon), len, m->arg);
    len = canon_field(canon, sizeof(canon), len, m->host);
    len = canon_field(canon, sizeof(canon), len, ts);
    len = canon_field(canon, sizeof(canon), len, m->nonce);
    len = canon_field(canon, sizeof(canon), len, m->reply);
    if (len >= sizeof(canon) || keylen == 0)
        return -1;
    if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)canon, len, mac, &mac_len) ==
            NULL ||
        mac_len != BP_CTL_MAC_LEN)
        return -1;
    return 0;
}

char *bp_ctl_msg_sign(const unsigned char *key, size_t keylen, const bp_ctl_msg *m, bp_err *err)
{
    unsigned char mac[BP_CTL_MAC_LEN];
    char mac_hex[2 * BP_CTL_MAC_LEN + 1];
    json_t *obj;
    char *text;

    if (key == NULL || keylen == 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "no control key: set pool.control_key_file to a file holding the key");
        return NULL;
    }
    if (compute_mac(key, keylen, m, mac) != 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "cannot sign the ctl message: HMAC failed");
        return NULL;
    }
    hex_encode(mac, sizeof(mac), mac_hex);
    OPENSSL_cleanse(mac, sizeof(mac));
    obj = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "v", BP_CTL_VERSION, "cmd",
                    bp_ctl_cmd_name(m->cmd), "arg", m->arg, "host", m->host, "ts",
                    (json_int_t)m->ts, "nonce", m->nonce, "reply", m->reply, "mac", mac_hex);
    if (obj == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "cannot encode the ctl message (arg and host must be UTF-8)");
        return NULL;
    }
    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (text == NULL)
        bp_err_set(err, BP_ERR_IO, ENOMEM, "cannot encode the ctl message: out of memory");
    return text;
}

void bp_ctl_nonce_cache_init(bp_ctl_nonce_cache *cache)
{
    memset(cache, 0, sizeof(*cache));
}

bool bp_ctl_msg_for_host(const bp_ctl_msg *m, const char *hostname)
{
    return m->host[0] == '\0' || (hostname != NULL && strcmp(m->host, hostname) == 0);
}

/* Copy the string member key of obj into buf. Returns 0, or -1 (missing, not a string, too
 * long) with the reason in err. */
static int get_string(json_t *obj, const char *key, char *buf, size_t cap, bp_err *err)
{
    json_t *v = json_object_get(obj, key); /* borrowed */

    if (!json_is_string(v)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: malformed (\"%s\" missing or not a string)", key);
        return -1;
    }
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: malformed (\"%s\" too long or holds a NUL)", key);
        return -1;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Decode the fields of an object that has a "mac". Returns 0 or a verdict. */
static bp_ctl_verdict decode(json_t *obj, bp_ctl_msg *m, char *mac_hex, size_t mac_cap, bp_err *err)
{
    json_t *v = json_object_get(obj, "v"); /* borrowed */
    json_t *ts = json_object_get(obj, "ts");
    char cmd[32];

    if (!json_is_integer(v)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: malformed (\"v\" missing or not an integer)");
        return BP_CTL_MALFORMED;
    }
    if (json_integer_value(v) != BP_CTL_VERSION) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: unsupported version %lld (this bullpen speaks %d); "
                   "use the bullpen ctl of the same release",
                   (long long)json_integer_value(v), BP_CTL_VERSION);
        return BP_CTL_VERSION_UNSUPPORTED;
    }
    if (get_string(obj, "cmd", cmd, sizeof(cmd), err) != 0 ||
        get_string(obj, "arg", m->arg, sizeof(m->arg), err) != 0 ||
        get_string(obj, "host", m->host, sizeof(m->host), err) != 0 ||
        get_string(obj, "nonce", m->nonce, sizeof(m->nonce), err) != 0 ||
        get_string(obj, "reply", m->reply, sizeof(m->reply), err) != 0 ||
        get_string(obj, "mac", mac_hex, mac_cap, err) != 0)
        return BP_CTL_MALFORMED;
    if (bp_ctl_cmd_parse(cmd, &m->cmd) != 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "ignored ctl message: unknown command '%s'", cmd);
        return BP_CTL_MALFORMED;
    }
    if (!json_is_integer(ts)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: malformed (\"ts\" missing or not an integer)");
        return BP_CTL_MALFORMED;
    }
    m->ts = (int64_t)json_integer_value(ts);
    if (!is_nonce(m->nonce)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: malformed (\"nonce\" is not %d lower-case hex digits)",
                   BP_CTL_NONCE_HEX);
        return BP_CTL_MALFORMED;
    }
    if (m->reply[0] == '\0') {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "ignored ctl message: malformed (empty \"reply\")");
        return BP_CTL_MALFORMED;
    }
    return BP_CTL_ACCEPTED;
}

/* Look nonce up and remember it. Returns 0 or a verdict (REPLAYED, FLOODED). */
static bp_ctl_verdict remember_nonce(bp_ctl_nonce_cache *c, const bp_ctl_msg *m, int64_t now_ms,
                                     bp_err *err)
{
    size_t next = c->next % BP_CTL_NONCE_CACHE;

    for (size_t i = 0; i < BP_CTL_NONCE_CACHE; i++) {
        if (strcmp(c->slot[i].nonce, m->nonce) == 0) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "ignored ctl message: replayed (nonce %s was already used %.1f s ago); "
                       "someone re-sent a captured command",
                       m->nonce, (double)(now_ms - c->slot[i].ts) / 1000.0);
            return BP_CTL_REPLAYED;
        }
    }
    /* the oldest slot may only be reused once its message would be refused as stale */
    if (c->slot[next].nonce[0] != '\0' && now_ms - c->slot[next].ts <= BP_CTL_MAX_SKEW_MS) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: more than %d ctl commands within %d s; wait and retry",
                   BP_CTL_NONCE_CACHE, BP_CTL_MAX_SKEW_MS / 1000);
        return BP_CTL_FLOODED;
    }
    memcpy(c->slot[next].nonce, m->nonce, sizeof(c->slot[next].nonce));
    c->slot[next].ts = m->ts;
    c->next = (next + 1) % BP_CTL_NONCE_CACHE;
    return BP_CTL_ACCEPTED;
}

bp_ctl_verdict bp_ctl_msg_verify(const unsigned char *key, size_t keylen, const char *text,
                                 int64_t now_ms, bp_ctl_nonce_cache *cache, bp_ctl_msg *out,
                                 bp_err *err)
{
    unsigned char want[BP_CTL_MAC_LEN], got[BP_CTL_MAC_LEN];
    char mac_hex[2 * BP_CTL_MAC_LEN + 2];
    bp_ctl_verdict verdict;
    json_error_t jerr;
    bp_err arg_err;
    bp_ctl_msg m;
    int64_t skew;
    json_t *obj;

    memset(&m, 0, sizeof(m));
    obj = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL || !json_is_object(obj)) {
        if (obj == NULL)
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "ignored ctl message: malformed (not JSON: %s at column %d)", jerr.text,
                       jerr.column);
        else
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "ignored ctl message: malformed (not a JSON object)");
        json_decref(obj);
        return BP_CTL_MALFORMED;
    }
    if (json_object_get(obj, "mac") == NULL) {
        json_decref(obj);
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: unsigned (no \"mac\"); only bullpen ctl with the key "
                   "of pool.control_key_file can command masters");
        return BP_CTL_UNSIGNED;
    }
    verdict = decode(obj, &m, mac_hex, sizeof(mac_hex), err);
    json_decref(obj);
    if (verdict != BP_CTL_ACCEPTED)
        return verdict;

    if (key == NULL || keylen == 0 || compute_mac(key, keylen, &m, want) != 0 ||
        hex_decode(mac_hex, got, sizeof(got)) != 0 || CRYPTO_memcmp(want, got, sizeof(want)) != 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: bad signature; check pool.control_key_file matches "
                   "on both sides");
        OPENSSL_cleanse(want, sizeof(want));
        return BP_CTL_BAD_MAC;
    }
    OPENSSL_cleanse(want, sizeof(want));
    if (check_arg(m.cmd, m.arg, &arg_err) != 0) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "ignored ctl message: malformed (%s)", arg_err.msg);
        return BP_CTL_MALFORMED;
    }
    skew = now_ms - m.ts;
    if (skew > BP_CTL_MAX_SKEW_MS || skew < -BP_CTL_MAX_SKEW_MS) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "ignored ctl message: stale (sent %.1f s %s this host's clock, limit %d s); "
                   "check both hosts' clocks (NTP) or whether it was replayed",
                   (double)(skew < 0 ? -skew : skew) / 1000.0, skew < 0 ? "ahead of" : "behind",
                   BP_CTL_MAX_SKEW_MS / 1000);
        return BP_CTL_STALE;
    }
    if (cache != NULL) {
        verdict = remember_nonce(cache, &m, now_ms, err);
        if (verdict != BP_CTL_ACCEPTED)
            return verdict;
    }
    *out = m;
    return BP_CTL_ACCEPTED;
}

/* ---- replies ---- */

bp_ctl_reply *bp_ctl_reply_new(const char *host, pid_t pid, bool ok, const char *fmt, ...)
{
    bp_ctl_reply *r = calloc(1, sizeof(*r));
    va_list ap;

    if (r == NULL)
        return NULL;
    snprintf(r->host, sizeof(r->host), "%s", host != NULL ? host : "");
    r->pid = pid;
    r->ok = ok;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    return r;
}

bp_ctl_reply *bp_ctl_reply_skipped(const char *host, pid_t pid, const char *why)
{
    bp_ctl_reply *r = why != NULL ? bp_ctl_reply_new(host, pid, true, "%s", why)
                                  : bp_ctl_reply_new(host, pid, true, "not addressed to %s",
                                                     host != NULL ? host : "this host");

    if (r != NULL)
        r->skipped = true;
    return r;
}

int bp_ctl_reply_add_worker(bp_ctl_reply *r, const bp_ctl_worker *w)
{
    bp_ctl_worker *grown = realloc(r->workers, (r->n_workers + 1) * sizeof(*grown));

    if (grown == NULL)
        return -1;
    r->workers = grown;
    r->workers[r->n_workers++] = *w;
    r->has_workers = true;
    return 0;
}

char *bp_ctl_reply_format(const bp_ctl_reply *r)
{
    json_t *obj = json_pack("{s:s, s:I, s:b, s:s}", "host", r->host, "pid", (json_int_t)r->pid,
                            "ok", r->ok, "message", r->message);
    json_t *arr;
    char *text;

    if (obj == NULL)
        return NULL;
    if (r->skipped && json_object_set_new(obj, "skipped", json_true()) != 0) /* steals */
        goto out_decref;
    if (r->has_workers) {
        arr = json_array();
        if (arr == NULL || json_object_set_new(obj, "workers", arr) != 0) /* steals arr */
            goto out_decref;
        for (size_t i = 0; i < r->n_workers; i++) {
            const bp_ctl_worker *w = &r->workers[i];
            json_t *row = json_pack("{s:i, s:I, s:s, s:s, s:s, s:I, s:I, s:I}", "index", w->index,
                                    "pid", (json_int_t)w->pid, "queue", w->queue, "state", w->state,
                                    "job", w->job, "jobs_done", (json_int_t)w->jobs_done, "rss_kb",
                                    (json_int_t)w->rss_kb, "since_ms", (json_int_t)w->since_ms);
            if (row == NULL || json_array_append_new(arr, row) != 0) /* steals row */
                goto out_decref;
        }
    }
    text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;

out_decref:
    json_decref(obj);
    return NULL;
}

/* Copy an optional string member (cut to cap). */
static void copy_opt_string(json_t *obj, const char *key, char *buf, size_t cap)
{
    const char *s = json_string_value(json_object_get(obj, key)); /* borrowed */

    snprintf(buf, cap, "%s", s != NULL ? s : "");
}

static long long opt_int(json_t *obj, const char *key)
{
    return (long long)json_integer_value(json_object_get(obj, key)); /* 0 when absent */
}

bp_ctl_reply *bp_ctl_reply_parse(const char *text, bp_err *err)
{
    json_error_t jerr;
    json_t *obj = json_loads(text, 0, &jerr);
    json_t *workers;
    bp_ctl_reply *r;

    if (obj == NULL || !json_is_object(obj) || !json_is_string(json_object_get(obj, "host")) ||
        !json_is_boolean(json_object_get(obj, "ok"))) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "malformed ctl reply (want a JSON object with \"host\" and \"ok\"): %.80s",
                   text);
        json_decref(obj);
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        goto err_oom;
    copy_opt_string(obj, "host", r->host, sizeof(r->host));
    copy_opt_string(obj, "message", r->message, sizeof(r->message));
    r->pid = (pid_t)opt_int(obj, "pid");
    r->ok = json_is_true(json_object_get(obj, "ok"));
    r->skipped = json_is_true(json_object_get(obj, "skipped"));
    workers = json_object_get(obj, "workers"); /* borrowed */
    if (json_is_array(workers)) {
        size_t i;
        json_t *row;
        r->has_workers = true;
        json_array_foreach(workers, i, row)
        {
            bp_ctl_worker w;
            memset(&w, 0, sizeof(w));
            w.index = (int)opt_int(row, "index");
            w.pid = (pid_t)opt_int(row, "pid");
            copy_opt_string(row, "queue", w.queue, sizeof(w.queue));
            copy_opt_string(row, "state", w.state, sizeof(w.state));
            copy_opt_string(row, "job", w.job, sizeof(w.job));
            w.jobs_done = opt_int(row, "jobs_done");
            w.rss_kb = opt_int(row, "rss_kb");
            w.since_ms = (int64_t)opt_int(row, "since_ms");
            if (bp_ctl_reply_add_worker(r, &w) != 0)
                goto err_oom;
        }
    }
    json_decref(obj);
    return r;

err_oom:
    bp_ctl_reply_free(r);
    json_decref(obj);
    bp_err_set(err, BP_ERR_IO, ENOMEM, "cannot parse ctl reply: out of memory");
    return NULL;
}

void bp_ctl_reply_free(bp_ctl_reply *r)
{
    if (r == NULL)
        return;
    free(r->workers);
    free(r);
}
