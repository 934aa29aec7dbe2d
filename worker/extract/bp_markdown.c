/* bp_markdown.c -- the text of a Markdown document: markup dropped, words kept.
 *
 * Not a CommonMark renderer: a single pass over lines that knows enough of the syntax to
 * drop what a reader does not see. Per line: fenced code keeps its text verbatim (the fence
 * and info string go); block prefixes go (blockquote >, list markers, task boxes, heading
 * #s, setext underlines, rules, table delimiter rows, reference definitions). Inline:
 * emphasis runs (* _ ~~) go unless they are plainly literal (a*b is emphasis, snake_case
 * and 2 * 3 are not), code spans keep their text, [text](url) and [text][ref] keep the
 * text, images keep their alt text, autolinks keep the address, HTML tags go (script,
 * style and comments with their content, across lines), table pipes separate words,
 * backslash escapes and the common entities are decoded.
 *
 * Everything is appended to the bp_text in place, so the output never needs more than the
 * input's size plus a byte per line. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bp_extract.h"

#define BP_MD_MAX_NEST  4          /* link text inside link text: deeper is kept literally */
#define BP_MD_LINK_LINE (1 << 20)  /* longer lines keep their brackets: bounds the match table */
#define NO_MATCH        UINT32_MAX /* a bracket without its partner */

typedef struct md_state {
    bp_text *t;           /* output */
    bool in_fence;        /* inside a fenced code block */
    char fence_ch;        /* '`' or '~' */
    size_t fence_len;     /* length of the opening fence */
    const char *raw_end;  /* inside raw HTML dropped up to this text ("</script", "-->") */
    const char *line;     /* start of the line being read */
    const char *line_end; /* its end */
    uint32_t *match;      /* per byte of the line: index of the matching ] or ), or NO_MATCH */
    size_t match_cap;     /* entries allocated in match */
    bool links;           /* match is valid for this line (brackets may form links) */
    uint32_t bt_none;     /* bit k: no closing run of k backticks after the last failed try */
    const char *gt_from;  /* memo of the last '>' search: searched from here ... */
    const char *gt_at;    /* ... and found this one (NULL: none up to the line end) */
    size_t para_start;    /* offset of the last line's words when it was paragraph text */
    bool para_line;       /* the last line was paragraph text (a setext heading candidate) */
} md_state;

/* Bytes that may start inline markup; everything else is copied in runs. */
static const bool md_special[256] = {
    ['\\'] = true, ['`'] = true, ['!'] = true, ['['] = true, ['<'] = true,
    ['&'] = true,  ['*'] = true, ['_'] = true, ['~'] = true, ['|'] = true};

static bool is_sp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Word characters for the intraword test of '_': ASCII alphanumerics and any non-ASCII. */
static bool is_wordch(char c)
{
    return isalnum((unsigned char)c) || (unsigned char)c >= 0x80;
}

static void emit(md_state *st, const char *s, size_t n)
{
    bp_text_append(st->t, s, n);
}

/* Case-insensitive search for needle in [s, e). */
static const char *find_ci(const char *s, const char *e, const char *needle)
{
    size_t nl = strlen(needle);

    for (; (size_t)(e - s) >= nl; s++) {
        if (strncasecmp(s, needle, nl) == 0)
            return s;
    }
    return NULL;
}

/* Encode code point cp as UTF-8 into out (4 bytes); invalid ones become U+FFFD. */
static size_t utf8_put(unsigned long cp, char *out)
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decode an entity at s ('&'). Returns the bytes consumed (0: not an entity we know) and
 * writes the UTF-8 text to out. */
static size_t entity(const char *s, const char *e, char *out, size_t *out_len)
{
    static const struct {
        const char *name;
        const char *text;
    } named[] = {{"&amp;", "&"},
                 {"&lt;", "<"},
                 {"&gt;", ">"},
                 {"&quot;", "\""},
                 {"&apos;", "'"},
                 {"&nbsp;", " "},
                 {"&copy;", "\xC2\xA9"},
                 {"&mdash;", "\xE2\x80\x94"},
                 {"&ndash;", "\xE2\x80\x93"},
                 {"&hellip;", "\xE2\x80\xA6"}};
    size_t avail = (size_t)(e - s);

    if (avail >= 3 && s[1] == '#') {
        const char *p = s + 2;
        int base = 10;
        unsigned long cp = 0;
        if (p < e && (*p == 'x' || *p == 'X')) {
            base = 16;
            p++;
        }
        const char *digits = p;
        while (p < e && p - digits < 7 &&
               (base == 10 ? isdigit((unsigned char)*p) : isxdigit((unsigned char)*p))) {
            cp =
                cp * (unsigned long)base +
                (unsigned long)(isdigit((unsigned char)*p) ? *p - '0'
                                                           : tolower((unsigned char)*p) - 'a' + 10);
            p++;
        }
        if (p == digits || p >= e || *p != ';')
            return 0;
        *out_len = utf8_put(cp, out);
        return (size_t)(p + 1 - s);
    }
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        size_t l = strlen(named[i].name);
        if (avail >= l && memcmp(s, named[i].name, l) == 0) {
            *out_len = strlen(named[i].text);
            memcpy(out, named[i].text, *out_len);
            return l;
        }
    }
    return 0;
}

/* Pair every [ with its ] and every ( with its ) on the line, with two stacks in one pass,
 * so finding a link's end is a lookup: scanning from each bracket instead would make a line
 * of "[[[[..." quadratic. The stacks live in the same table (an open bracket's slot holds
 * the previous open one until it is matched). Returns false when the line keeps its
 * brackets literally (too long, or out of memory). */
static bool md_match_line(md_state *st, const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    uint32_t top_b = NO_MATCH, top_p = NO_MATCH;

    if (n > BP_MD_LINK_LINE)
        return false;
    if (n > st->match_cap) {
        size_t cap = n > 256 ? n : 256;
        uint32_t *m = realloc(st->match, cap * sizeof(m[0]));
        if (m == NULL)
            return false;
        st->match = m;
        st->match_cap = cap;
    }
    for (uint32_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            st->match[i] = NO_MATCH;
            st->match[++i] = NO_MATCH;
        } else if (c == '[') {
            st->match[i] = top_b; /* link to the enclosing open bracket */
            top_b = i;
        } else if (c == '(') {
            st->match[i] = top_p;
            top_p = i;
        } else if (c == ']' && top_b != NO_MATCH) {
            uint32_t o = top_b;
            top_b = st->match[o];
            st->match[o] = i;
            st->match[i] = NO_MATCH;
        } else if (c == ')' && top_p != NO_MATCH) {
            uint32_t o = top_p;
            top_p = st->match[o];
            st->match[o] = i;
            st->match[i] = NO_MATCH;
        } else {
            st->match[i] = NO_MATCH;
        }
    }
    while (top_b != NO_MATCH) { /* unmatched open brackets */
        uint32_t o = top_b;
        top_b = st->match[o];
        st->match[o] = NO_MATCH;
    }
    while (top_p != NO_MATCH) {
        uint32_t o = top_p;
        top_p = st->match[o];
        st->match[o] = NO_MATCH;
    }
    return true;
}

/* The partner of the bracket at s, if it lies before e. */
static const char *match_bracket(const md_state *st, const char *s, const char *e)
{
    uint32_t m;

    if (!st->links)
        return NULL;
    m = st->match[s - st->line];
    if (m == NO_MATCH || st->line + m >= e)
        return NULL;
    return st->line + m;
}

static void inline_span(md_state *st, const char *s, const char *e, bool table, int nest);

/* A link or image at s ('['): emits its text and returns the end of the whole construct,
 * or NULL when s starts no link. */
static const char *link(md_state *st, const char *s, const char *e, bool table, int nest)
{
    const char *close = match_bracket(st, s, e);
    const char *end;

    if (close == NULL || close + 1 >= e || nest >= BP_MD_MAX_NEST)
        return NULL;
    if (close[1] == '(' || close[1] == '[')
        end = match_bracket(st, close + 1, e);
    else
        return NULL;
    if (end == NULL)
        return NULL;
    inline_span(st, s + 1, close, table, nest + 1);
    return end + 1;
}

/* An HTML tag or autolink at s ('<'). Returns its end, or NULL when it is neither. */
static const char *angle(md_state *st, const char *s, const char *e)
{
    const char *gt, *p = s + 1;

    /* The next '>' on the line, remembered: a line of "<a<a<a..." must not rescan. */
    if (st->gt_from == NULL || s < st->gt_from || (st->gt_at != NULL && st->gt_at < s)) {
        st->gt_from = s;
        st->gt_at = memchr(s, '>', (size_t)(st->line_end - s));
    }
    gt = st->gt_at != NULL && st->gt_at < e ? st->gt_at : NULL;
    if (p < e && isalpha((unsigned char)*p) && gt != NULL) {
        const char *q = p;
        while (q < gt && !is_sp(*q) && *q != '<')
            q++;
        if (q == gt && (memchr(p, ':', (size_t)(gt - p)) || memchr(p, '@', (size_t)(gt - p)))) {
            emit(st, p, (size_t)(gt - p)); /* autolink: the address is the text */
            return gt + 1;
        }
    }
    if (p + 3 <= e && memcmp(p, "!--", 3) == 0) {
        const char *c = find_ci(p + 3, e, "-->");
        if (c == NULL) {
            st->raw_end = "-->";
            return e;
        }
        return c + 3;
    }
    if (p >= e || !(isalpha((unsigned char)*p) || *p == '/' || *p == '!' || *p == '?'))
        return NULL;
    if (gt == NULL)
        return NULL;
    static const char *const raw[][2] = {{"script", "</script"}, {"style", "</style"}};
    for (size_t i = 0; i < 2; i++) {
        size_t l = strlen(raw[i][0]);
        if ((size_t)(gt - p) >= l && strncasecmp(p, raw[i][0], l) == 0 &&
            (p + l == gt || is_sp(p[l]))) {
            const char *c = find_ci(gt, e, raw[i][1]);
            if (c == NULL) {
                st->raw_end = raw[i][1];
                return e;
            }
            const char *cgt = memchr(c, '>', (size_t)(e - c));
            return cgt != NULL ? cgt + 1 : e;
        }
    }
    bp_text_break(st->t); /* <br>, <p>, <td>: treat every tag as a separator */
    return gt + 1;
}

/* Inline markup in [s, e). */
static void inline_span(md_state *st, const char *s, const char *e, bool table, int nest)
{
    const char *p = s;

    while (p < e) {
        const char *q = p;
        while (q < e && !md_special[(unsigned char)*q])
            q++;
        if (q > p)
            emit(st, p, (size_t)(q - p));
        if (q >= e)
            break;
        p = q;
        char c = *p;
        if (c == '\\' && p + 1 < e && ispunct((unsigned char)p[1])) {
            emit(st, p + 1, 1);
            p += 2;
        } else if (c == '`') {
            const char *r = p;
            while (r < e && *r == '`')
                r++;
            size_t k = (size_t)(r - p);
            const char *c2 = r;
            if (k < 32 && (st->bt_none & (UINT32_C(1) << k)))
                c2 = e;      /* already known: no run of k backticks follows on this line */
            while (c2 < e) { /* a closing run of exactly k backticks */
                const char *x = memchr(c2, '`', (size_t)(e - c2));
                if (x == NULL)
                    break;
                const char *y = x;
                while (y < e && *y == '`')
                    y++;
                if ((size_t)(y - x) == k) {
                    emit(st, r, (size_t)(x - r));
                    p = y;
                    goto next;
                }
                c2 = y;
            }
            if (k < 32 && e == st->line_end)
                st->bt_none |= UINT32_C(1) << k;
            emit(st, p, k); /* no closing run: literal backticks */
            p = r;
        } else if (c == '!' && p + 1 < e && p[1] == '[') {
            const char *end = link(st, p + 1, e, table, nest);
            if (end != NULL) {
                p = end;
            } else {
                emit(st, p, 1);
                p++;
            }
        } else if (c == '[') {
            const char *end = link(st, p, e, table, nest);
            if (end != NULL) {
                p = end;
            } else {
                emit(st, p, 1);
                p++;
            }
        } else if (c == '<') {
            const char *end = angle(st, p, e);
            if (end != NULL) {
                p = end;
                if (st->raw_end != NULL)
                    return;
            } else {
                emit(st, p, 1);
                p++;
            }
        } else if (c == '&') {
            char buf[8];
            size_t bl = 0, used = entity(p, e, buf, &bl);
            if (used > 0) {
                emit(st, buf, bl);
                p += used;
            } else {
                emit(st, p, 1);
                p++;
            }
        } else if (c == '|') {
            if (table)
                bp_text_break(st->t);
            else
                emit(st, p, 1);
            p++;
        } else { /* a run of '*', '_' or '~' */
            const char *r = p;
            while (r < e && *r == c)
                r++;
            char before = p > s ? p[-1] : ' ', after = r < e ? *r : ' ';
            bool left = !is_sp(after), right = !is_sp(before), drop;
            if (c == '_')
                drop = (left || right) && !(is_wordch(before) && is_wordch(after));
            else if (c == '~')
                drop = r - p >= 2 && (left || right);
            else
                drop = left || right;
            if (!drop)
                emit(st, p, (size_t)(r - p));
            p = r;
        }
next:;
    }
}

/* A line made only of c (at least min of them) and spaces. */
static bool only_of(const char *s, const char *e, char c, int min)
{
    int n = 0;

    for (; s < e; s++) {
        if (*s == c)
            n++;
        else if (!is_sp(*s))
            return false;
    }
    return n >= min;
}

/* A table delimiter row: |---|:--:| */
static bool delimiter_row(const char *s, const char *e)
{
    bool dash = false, pipe = false;

    for (; s < e; s++) {
        if (*s == '-')
            dash = true;
        else if (*s == '|')
            pipe = true;
        else if (*s != ':' && !is_sp(*s))
            return false;
    }
    return dash && pipe;
}

/* A fence of at least 3 '`' or '~' at s; returns its length or 0. */
static size_t fence_at(const char *s, const char *e, char *ch)
{
    const char *p = s;

    if (p >= e || (*p != '`' && *p != '~'))
        return 0;
    while (p < e && *p == *s)
        p++;
    if (p - s < 3)
        return 0;
    if (*s == '`' && memchr(p, '`', (size_t)(e - p)) != NULL)
        return 0; /* ``` followed by more backticks is inline code, not a fence */
    *ch = *s;
    return (size_t)(p - s);
}

/* Skip block prefixes: blockquote markers, list markers and task boxes. */
static const char *skip_containers(const char *p, const char *e)
{
    for (;;) {
        while (p < e && is_sp(*p))
            p++;
        if (p < e && *p == '>') {
            p++;
            continue;
        }
        if (p < e && (*p == '-' || *p == '*' || *p == '+') && (p + 1 == e || is_sp(p[1]))) {
            p++;
            continue;
        }
        const char *d = p;
        while (d < e && d - p < 9 && isdigit((unsigned char)*d))
            d++;
        if (d > p && d < e && (*d == '.' || *d == ')') && (d + 1 == e || is_sp(d[1]))) {
            p = d + 1;
            continue;
        }
        if (e - p >= 3 && p[0] == '[' && strchr(" xX", p[1]) && p[2] == ']' &&
            (p + 3 == e || is_sp(p[3]))) {
            p += 3;
            continue;
        }
        return p;
    }
}

static void md_line(md_state *st, const char *s, const char *e)
{
    const char *p = s;
    char ch;
    size_t fl;

    if (st->in_fence) {
        while (p < e && is_sp(*p))
            p++;
        if (fence_at(p, e, &ch) >= st->fence_len && ch == st->fence_ch &&
            only_of(p, e, ch, (int)st->fence_len))
            st->in_fence = false;
        else
            emit(st, s, (size_t)(e - s)); /* code text is kept as it is */
        return;
    }
    if (st->raw_end != NULL) {
        const char *c = find_ci(s, e, st->raw_end);
        if (c == NULL)
            return;
        const char *gt = memchr(c, '>', (size_t)(e - c));
        st->raw_end = NULL;
        if (gt == NULL)
            return;
        p = gt + 1;
    }
    while (p < e && is_sp(*p))
        p++;
    bool was_para = st->para_line;
    st->para_line = false;
    if (was_para && st->t->heading != NULL && (only_of(p, e, '=', 1) || only_of(p, e, '-', 1)) &&
        (size_t)(p - s) < 4) {
        st->t->heading(st->t->heading_arg, *p == '=' ? 1 : 2, st->para_start); /* setext */
        return;
    }
    if (only_of(p, e, '-', 3) || only_of(p, e, '*', 3) || only_of(p, e, '_', 3) ||
        only_of(p, e, '=', 1))
        return; /* rules and setext underlines */
    const char *unprefixed = p;
    p = skip_containers(p, e);
    if ((fl = fence_at(p, e, &ch)) > 0) {
        st->in_fence = true;
        st->fence_ch = ch;
        st->fence_len = fl;
        return;
    }
    int level = 0;
    if (p < e && *p == '#') {
        const char *h = p;
        while (h < e && *h == '#')
            h++;
        if (h - p <= 6 && (h == e || is_sp(*h))) {
            level = (int)(h - p);
            p = h;
            while (e > p && is_sp(e[-1]))
                e--;
            const char *t = e;
            while (t > p && t[-1] == '#')
                t--;
            if (t == p || is_sp(t[-1]))
                e = t; /* closing #s */
        }
    }
    st->line = p;
    st->line_end = e;
    st->links = memchr(p, '[', (size_t)(e - p)) != NULL && md_match_line(st, p, e);
    st->bt_none = 0;
    st->gt_from = NULL;
    if (p < e && *p == '[' && p + 1 < e && p[1] != '^') {
        const char *close = match_bracket(st, p, e);
        if (close != NULL && close + 1 < e && close[1] == ':')
            return; /* [ref]: url "title" */
    }
    if (delimiter_row(p, e))
        return;
    size_t start = bp_text_here(st->t);
    inline_span(st, p, e, memchr(p, '|', (size_t)(e - p)) != NULL, 0);
    if (level > 0 && st->t->heading != NULL)
        st->t->heading(st->t->heading_arg, level, start);
    else if (level == 0 && p == unprefixed && bp_text_here(st->t) > start) {
        if (!was_para)
            st->para_start = start; /* plain text: a setext underline may follow */
        st->para_line = true;
    }
}

void bp_extract_markdown(const char *in, size_t n, bp_text *t)
{
    md_state st = {.t = t};
    const char *p = in, *end = in + n, *released = in;

    while (p < end && !t->oom) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        md_line(&st, p, eol);
        bp_text_break(t);
        p = eol + 1;
        if (t->release != NULL && p - released >= BP_TEXT_RELEASE_BYTES && p <= end) {
            t->release(t->release_arg, p);
            released = p;
        }
    }
    free(st.match);
}
