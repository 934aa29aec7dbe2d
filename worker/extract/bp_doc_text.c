/* bp_doc_text.c -- text, Markdown and HTML files in any common encoding: find the encoding,
 * convert to UTF-8 (iconv), then run the UTF-8 extractors (bp_extract.c, bp_markdown.c,
 * bp_html.c) with heading marks.
 *
 * Which encoding, in order: a byte order mark (UTF-8, UTF-16LE/BE); UTF-16 without a mark,
 * told by the NUL bytes of ASCII text falling on odd (LE) or even (BE) offsets; valid UTF-8
 * as it is (the common case costs one validation pass and no copy); otherwise uchardet's
 * guess over the first 64 KiB, and for the Latin family the choice between windows-1252
 * and ISO-8859-1 made by whether bytes 0x80-0x9F (C1 controls in Latin-1, punctuation in
 * 1252) occur. The result reports the name (bp_doc.encoding). */
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uchardet/uchardet.h>

#include "bp_doc_int.h"

#define BP_DETECT_SAMPLE (64 * 1024) /* bytes given to uchardet and the UTF-16 test */

/* UTF-16 without a BOM: most code units of ASCII-heavy text have one zero byte. Returns
 * "UTF-16LE", "UTF-16BE" or NULL. */
static const char *sniff_utf16(const unsigned char *s, size_t n)
{
    size_t pairs = (n < BP_DETECT_SAMPLE ? n : BP_DETECT_SAMPLE) / 2, zodd = 0, zeven = 0;

    if (pairs < 2)
        return NULL;
    for (size_t i = 0; i < pairs; i++) {
        zeven += s[2 * i] == 0;
        zodd += s[2 * i + 1] == 0;
    }
    if (zodd * 10 >= pairs * 3 && zeven * 10 < pairs)
        return "UTF-16LE";
    if (zeven * 10 >= pairs * 3 && zodd * 10 < pairs)
        return "UTF-16BE";
    return NULL;
}

/* Whether any byte in 0x80-0x9F occurs (windows-1252 punctuation, Latin-1 C1 controls). */
static bool has_c1(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 0x80 && s[i] <= 0x9F)
            return true;
    return false;
}

/* Whether uchardet's guess is an encoding of another script (Cyrillic, Greek, Hebrew,
 * Arabic, Thai, CJK, ...), which we follow. Its guesses among the Latin code pages
 * (windows-1250 for windows-1252 text is common on short samples) are not reliable enough
 * to choose between them, so any Latin guess becomes windows-1252, or ISO-8859-1 when no
 * byte in 0x80-0x9F occurs: the legacy encodings of Western text. */
static bool other_script(const char *g)
{
    static const char *const latin[] = {
        "ISO-8859-1",   "ISO-8859-2",   "ISO-8859-3",   "ISO-8859-4",   "ISO-8859-9",
        "ISO-8859-10",  "ISO-8859-13",  "ISO-8859-15",  "ISO-8859-16",  "WINDOWS-1250",
        "WINDOWS-1252", "WINDOWS-1254", "WINDOWS-1257", "WINDOWS-1258", "MAC-CENTRALEUROPE",
        "IBM852",       "IBM850",       "IBM865",       "MAC-ROMAN",    "VISCII"};
    for (size_t i = 0; i < sizeof(latin) / sizeof(latin[0]); i++)
        if (strcasecmp(g, latin[i]) == 0)
            return false;
    return true;
}

/* An 8-bit encoding for bytes that are not UTF-8. */
static const char *guess_8bit(const unsigned char *s, size_t n, char *buf, size_t bufsz)
{
    uchardet_t ud = uchardet_new();
    const char *g = NULL;

    if (ud != NULL && uchardet_handle_data(ud, (const char *)s,
                                           n < BP_DETECT_SAMPLE ? n : BP_DETECT_SAMPLE) == 0) {
        uchardet_data_end(ud);
        g = uchardet_get_charset(ud);
    }
    if (g != NULL && g[0] != '\0' && strcasecmp(g, "ASCII") != 0 && strcasecmp(g, "UTF-8") != 0) {
        snprintf(buf, bufsz, "%s", g);
        uchardet_delete(ud);
        if (!other_script(buf)) /* a Latin-alphabet guess: see other_script() */
            return has_c1(s, n) ? "windows-1252" : "ISO-8859-1";
        return buf;
    }
    if (ud != NULL)
        uchardet_delete(ud);
    return has_c1(s, n) ? "windows-1252" : "ISO-8859-1"; /* the West's usual legacy */
}

/* Known binary formats we do not read, by their magic bytes: named in the refusal. */
static const char *binary_kind(const unsigned char *s, size_t n)
{
    static const struct {
        const char *magic;
        size_t len;
        const char *what;
    } kinds[] = {
        {"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8,
         "an OLE2 compound file: a legacy Office document (.doc, .xls, .ppt; save it as "
         "DOCX, XLSX or PPTX) or a password-protected Office document (remove the password)"},
        {"\x89PNG", 4, "a PNG image"},
        {"\xFF\xD8\xFF", 3, "a JPEG image"},
        {"GIF8", 4, "a GIF image"},
        {"\x1F\x8B", 2, "gzip-compressed data"},
        {"\x7F"
         "ELF",
         4, "an ELF executable"},
        {"PK\x03\x04", 4, "a zip archive"},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (n >= kinds[i].len && memcmp(s, kinds[i].magic, kinds[i].len) == 0)
            return kinds[i].what;
    return NULL;
}

/* Whether the sample looks like binary data rather than text: a NUL byte, or more than
 * 1 in 100 bytes a control character other than tab, line feed, form feed, carriage
 * return and escape. */
static bool looks_binary(const unsigned char *s, size_t n)
{
    size_t m = n < BP_DETECT_SAMPLE ? n : BP_DETECT_SAMPLE, ctl = 0;

    for (size_t i = 0; i < m; i++) {
        if (s[i] == 0)
            return true;
        if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\f' && s[i] != '\r' &&
            s[i] != 0x1B)
            ctl++;
    }
    return ctl * 100 > m;
}

/* Convert n bytes from enc to UTF-8 into a malloc'd buffer. Returns 0, or -1 with err. */
static int to_utf8(const bp_doc_src *src, const char *enc, const char *in, size_t n, char **out,
                   size_t *out_len, bp_err *err)
{
    iconv_t cd = iconv_open("UTF-8", enc);
    size_t cap, left_in = n, left_out;
    char *buf, *ip = (char *)(uintptr_t)in, *op;

    if (cd == (iconv_t)-1) {
        bp_err_set(err, BP_ERR_PROTOCOL, errno, "text of '%s': encoding '%s' is not supported",
                   src->name, enc);
        return -1;
    }
    cap = n * 3 + 16; /* the worst case: every byte one 3-byte character (1252's euro) */
    if (cap > src->lim.max_output_bytes * 2 + 16)
        cap = src->lim.max_output_bytes * 2 + 16;
    buf = malloc(cap);
    if (buf == NULL) {
        iconv_close(cd);
        bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory converting '%s' to UTF-8",
                   src->name);
        return -1;
    }
    op = buf;
    left_out = cap - 1;
    if (iconv(cd, &ip, &left_in, &op, &left_out) == (size_t)-1) {
        int e = errno;
        size_t at = (size_t)(ip - in);
        iconv_close(cd);
        free(buf);
        if (e == E2BIG)
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "text of '%s' converted from %s passes the limit on extracted text "
                       "(handlers.max_text_bytes)",
                       src->name, enc);
        else
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "text of '%s' is not valid %s at byte offset %zu (%s)", src->name, enc, at,
                       e == EINVAL ? "truncated sequence at the end" : "invalid sequence");
        return -1;
    }
    iconv_close(cd);
    *op = '\0';
    *out = buf;
    *out_len = (size_t)(op - buf);
    return 0;
}

int bp_doc_text_extract(const bp_doc_src *src, bp_doc *d, bp_err *err)
{
    const unsigned char *s = (const unsigned char *)src->in;
    const char *in = src->in, *enc = NULL;
    size_t n = src->n, skip = 0;
    char *conv = NULL, guess[64];
    bp_doc_type type = d->format == BP_FMT_MARKDOWN ? BP_DOC_MARKDOWN
                       : d->format == BP_FMT_HTML   ? BP_DOC_HTML
                                                    : BP_DOC_TEXT;
    int rc;

    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        enc = "UTF-8";
        skip = 3;
    } else if (n >= 2 && s[0] == 0xFF && s[1] == 0xFE) {
        enc = "UTF-16LE";
        skip = 2;
    } else if (n >= 2 && s[0] == 0xFE && s[1] == 0xFF) {
        enc = "UTF-16BE";
        skip = 2;
    } else if ((enc = sniff_utf16(s, n)) == NULL) {
        const char *kind = binary_kind(s, n);
        if (kind != NULL || looks_binary(s, n)) { /* garbage chunks help no one */
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "'%s' is %s: not a format bullpen reads (PDF, DOCX, PPTX, XLSX, ODT, "
                       "ODP, ODS, EPUB, RTF, HTML, Markdown, text)",
                       src->name, kind != NULL ? kind : "binary data of an unknown format");
            return -1;
        }
        size_t bad = bp_utf8_check(s, n);
        enc = bad == n ? "UTF-8" : guess_8bit(s, n, guess, sizeof(guess));
    }
    snprintf(d->encoding, sizeof(d->encoding), "%s", enc);
    if (strcmp(enc, "UTF-8") == 0) {
        size_t bad = bp_utf8_check(s + skip, n - skip);
        if (bad != n - skip) { /* a UTF-8 BOM over bytes that are not: say where */
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "text of '%s' starts with a UTF-8 byte order mark but is not valid UTF-8 "
                       "at byte offset %zu",
                       src->name, bad + skip);
            return -1;
        }
        in += skip;
        n -= skip;
    } else {
        size_t cl;
        if (to_utf8(src, enc, in + skip, n - skip, &conv, &cl, err) != 0)
            return -1;
        in = conv;
        n = cl;
    }
    bp_doc_progress(src, 0, (unsigned)(src->n >> 10) + 1);
    if (conv == NULL) { /* reading the caller's bytes: let it drop what is done */
        d->text.release = src->release;
        d->text.release_arg = src->release_arg;
    }
    rc = bp_extract_into(type, in, n, &d->text);
    d->text.release = NULL;
    bp_doc_progress(src, (unsigned)(src->n >> 10) + 1, (unsigned)(src->n >> 10) + 1);
    free(conv);
    (void)rc; /* out of memory and the output limit are read from d->text by the caller */
    return 0;
}
