/* bp_url.c -- Redis URLs: redis://, rediss:// and unix:// into the parts bp_conn needs.
 *
 *   redis[s]://[user[:password]@]host[:port][/db][?db=N]
 *   unix://[user[:password]@]/path/to/socket[?db=N]
 *
 * host may be a name, an IPv4 literal or a bracketed IPv6 literal ([::1]); user and password
 * are percent-decoded (a password may hold '@' or ':' written as %40 and %3A). Messages never
 * repeat the password: they name the part that is wrong. The result is all-or-nothing: rc is
 * written only when the whole URL is good. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_config_int.h"
#include "bp_hex.h"

#define BP_URL_DEFAULT_PORT 6379 /* Redis's own default port */

#define BP_URL_FORMS "redis://host:6379/0, rediss://user@host:6380/0 or unix:///path/to/redis.sock"

/* Percent-decode s[0..len) into a new malloc'd string. Returns NULL and sets err on a bad
 * escape or an encoded NUL; `what` names the part for the message. */
static char *pct_decode(const char *s, size_t len, const char *what, bp_err *err)
{
    char *out = malloc(len + 1);
    size_t o = 0;

    if (out == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "out of memory decoding the URL's %s", what);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? bp_hex_digit((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < len ? bp_hex_digit((unsigned char)s[i + 2]) : -1;

        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "bad percent-escape in the URL's %s; write a byte as %%XX with two hex "
                       "digits (%%25 for '%%' itself)",
                       what);
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

/* Parse a decimal number in s[0..len) into [min, max]. Returns 0, or -1 when it is not one. */
static int parse_num(const char *s, size_t len, long min, long max, int *out)
{
    long v = 0;

    if (len == 0 || len > 10)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int valid_hostname(const char *h, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_')
            return 0;
    }
    return 1;
}

static int valid_ipv6(const char *h, size_t len)
{
    size_t colons = 0;

    if (len < 2 || len > 63)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '%') /* zone id: fe80::1%eth0 */
            return colons >= 2 && i + 1 < len;
        if (c == ':')
            colons++;
        else if (!isxdigit(c) && c != '.')
            return 0;
    }
    return colons >= 2;
}

/* host[:port] or [v6][:port] of a redis:// or rediss:// URL. */
static int parse_hostport(const char *s, size_t len, char **host, int *port, bp_err *err)
{
    const char *h = s, *p = NULL;
    size_t hlen = len;

    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "IPv6 address without its closing ']'; write it as [::1]:6379");
            return -1;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        if (!valid_ipv6(h, hlen)) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "'%.*s' is not an IPv6 address; write an IPv6 literal in brackets, "
                       "[::1]:6379",
                       (int)hlen, h);
            return -1;
        }
        if (close + 1 < s + len) {
            if (close[1] != ':') {
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "unexpected text after ']'; write [::1]:6379 (address, then :port)");
                return -1;
            }
            p = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon != NULL) {
            if (memchr(colon + 1, ':', (size_t)(s + len - colon - 1)) != NULL) {
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "host '%.*s' has several ':'; put an IPv6 address in brackets, "
                           "[::1]:6379",
                           (int)len, s);
                return -1;
            }
            hlen = (size_t)(colon - s);
            p = colon + 1;
        }
        if (hlen == 0) {
            bp_err_set(err, BP_ERR_CONFIG, 0, "the URL has no host; write it as " BP_URL_FORMS);
            return -1;
        }
        if (!valid_hostname(h, hlen)) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "host '%.*s' is not a valid host name or address; use letters, digits, "
                       "'-' and '.', or an IPv6 literal in brackets",
                       (int)hlen, h);
            return -1;
        }
    }
    *port = BP_URL_DEFAULT_PORT;
    if (p != NULL && parse_num(p, (size_t)(s + len - p), 1, 65535, port) != 0) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "port '%.*s' is not a port number; use 1-65535 (or leave it out for 6379)",
                   (int)(s + len - p), p);
        return -1;
    }
    if (s[0] == '[') /* an IPv6 zone is written %25 (RFC 6874): fe80::1%25eth0 */
        *host = pct_decode(h, hlen, "IPv6 zone", err);
    else
        *host = strndup(h, hlen);
    if (*host == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "out of memory parsing the URL");
        return -1;
    }
    return 0;
}

/* The query string: only db=N is known. */
static int parse_query(const char *q, int *db, int *db_set, bp_err *err)
{
    while (*q != '\0') {
        size_t len = strcspn(q, "&");
        const char *eq = memchr(q, '=', len);

        if (eq != NULL && (size_t)(eq - q) == 2 && strncmp(q, "db", 2) == 0) {
            if (parse_num(eq + 1, (size_t)(q + len - eq - 1), 0, INT_MAX, db) != 0) {
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "database '%.*s' is not a number; use ?db=0 or another index >= 0",
                           (int)(q + len - eq - 1), eq + 1);
                return -1;
            }
            *db_set = 1;
        } else if (len > 0) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "unknown URL parameter '%.*s'; the only parameter is db=N", (int)len, q);
            return -1;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* user[:password] before the '@'. */
static int parse_userinfo(const char *s, size_t len, char **user, char **pass, bp_err *err)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon != NULL ? (size_t)(colon - s) : len;

    if (ulen > 0 && (*user = pct_decode(s, ulen, "user name", err)) == NULL)
        return -1;
    if (colon == NULL)
        return 0;
    if (colon + 1 == s + len) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "the password after ':' is empty; remove the ':' or give the password "
                   "(or use redis.password_file)");
        return -1;
    }
    *pass = pct_decode(colon + 1, (size_t)(s + len - colon - 1), "password", err);
    return *pass == NULL ? -1 : 0;
}

int bp_url_parse(const char *url, bp_redis_config *rc, bp_err *err)
{
    bp_redis_config r = {.port = BP_URL_DEFAULT_PORT};
    const char *sep = strstr(url, "://");
    const char *rest, *slash, *at, *query, *end;
    int db_set = 0, path_db_set = 0;

    if (sep == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "not a Redis URL; write it as " BP_URL_FORMS);
        return -1;
    }
    if ((size_t)(sep - url) == 5 && strncasecmp(url, "redis", 5) == 0) {
        r.transport = BP_TRANSPORT_TCP;
    } else if ((size_t)(sep - url) == 6 && strncasecmp(url, "rediss", 6) == 0) {
        r.transport = BP_TRANSPORT_TLS;
    } else if ((size_t)(sep - url) == 4 && strncasecmp(url, "unix", 4) == 0) {
        r.transport = BP_TRANSPORT_UNIX;
    } else {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "unknown scheme '%.*s://'; use redis:// (TCP), rediss:// (TLS) or unix:// "
                   "(socket)",
                   (int)(sep - url > 16 ? 16 : sep - url), url);
        return -1;
    }
    rest = sep + 3;
    if (strpbrk(rest, "# \t\r\n") != NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "the URL contains white space or '#'; percent-encode them (%%20, %%23)");
        return -1;
    }
    query = strchr(rest, '?');
    end = query != NULL ? query : rest + strlen(rest);
    slash = memchr(rest, '/', (size_t)(end - rest));
    if (slash == NULL)
        slash = end;
    at = NULL;
    for (const char *p = rest; p < slash; p++) /* the last '@' before the path */
        if (*p == '@')
            at = p;
    if (at != NULL && parse_userinfo(rest, (size_t)(at - rest), &r.username, &r.password, err))
        goto out_free;
    const char *hp = at != NULL ? at + 1 : rest;

    if (r.transport == BP_TRANSPORT_UNIX) {
        if (hp != slash && !(slash - hp == 9 && strncmp(hp, "localhost", 9) == 0)) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "a unix:// URL takes no host ('%.*s'); write unix:///path/to/redis.sock",
                       (int)(slash - hp), hp);
            goto out_free;
        }
        if (slash == end || end - slash < 2) {
            bp_err_set(err, BP_ERR_CONFIG, 0,
                       "the unix:// URL has no socket path; write unix:///path/to/redis.sock");
            goto out_free;
        }
        r.unix_path = pct_decode(slash, (size_t)(end - slash), "socket path", err);
        if (r.unix_path == NULL)
            goto out_free;
        r.port = 0;
    } else {
        if (parse_hostport(hp, (size_t)(slash - hp), &r.host, &r.port, err) != 0)
            goto out_free;
        if (end - slash > 1) {
            if (parse_num(slash + 1, (size_t)(end - slash - 1), 0, INT_MAX, &r.db) != 0) {
                bp_err_set(err, BP_ERR_CONFIG, 0,
                           "database '%.*s' is not a number; end the URL with /0 or another "
                           "index >= 0",
                           (int)(end - slash - 1), slash + 1);
                goto out_free;
            }
            path_db_set = 1;
        }
    }
    if (query != NULL && parse_query(query + 1, &r.db, &db_set, err) != 0)
        goto out_free;
    if (db_set && path_db_set) {
        bp_err_set(err, BP_ERR_CONFIG, 0,
                   "the database is given twice (/N and ?db=N); keep one of them");
        goto out_free;
    }
    r.url_redacted = bp_url_redact(&r);
    if (r.url_redacted == NULL) {
        bp_err_set(err, BP_ERR_CONFIG, 0, "out of memory parsing the URL");
        goto out_free;
    }
    rc->transport = r.transport;
    rc->host = r.host;
    rc->port = r.port;
    rc->unix_path = r.unix_path;
    rc->username = r.username;
    rc->password = r.password;
    rc->db = r.db;
    rc->url_redacted = r.url_redacted;
    return 0;

out_free:
    bp_url_free(&r);
    return -1;
}

void bp_url_free(bp_redis_config *rc)
{
    if (rc == NULL)
        return;
    free(rc->host);
    free(rc->unix_path);
    free(rc->username);
    if (rc->password != NULL) {
        explicit_bzero(rc->password, strlen(rc->password));
        free(rc->password);
    }
    free(rc->url_redacted);
    rc->host = rc->unix_path = rc->username = rc->password = rc->url_redacted = NULL;
}

char *bp_url_redact(const bp_redis_config *rc)
{
    const char *scheme = rc->transport == BP_TRANSPORT_TLS    ? "rediss"
                         : rc->transport == BP_TRANSPORT_UNIX ? "unix"
                                                              : "redis";
    char user[300] = "";
    char *out = NULL;
    int n;

    if (rc->username != NULL || rc->password != NULL)
        snprintf(user, sizeof(user), "%.256s%s@", rc->username != NULL ? rc->username : "",
                 rc->password != NULL ? ":***" : "");
    if (rc->transport == BP_TRANSPORT_UNIX) {
        if (rc->db != 0)
            n = asprintf(&out, "%s://%s%s?db=%d", scheme, user, rc->unix_path, rc->db);
        else
            n = asprintf(&out, "%s://%s%s", scheme, user, rc->unix_path);
    } else {
        int v6 = rc->host != NULL && strchr(rc->host, ':') != NULL;
        n = asprintf(&out, "%s://%s%s%s%s:%d/%d", scheme, user, v6 ? "[" : "",
                     rc->host != NULL ? rc->host : "", v6 ? "]" : "", rc->port, rc->db);
    }
    return n < 0 ? NULL : out;
}
