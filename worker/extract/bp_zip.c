/* bp_zip.c -- zip containers (OOXML, OpenDocument, EPUB) read through libzip from memory,
 * and a hardened libxml2 streaming reader over one entry.
 *
 * Zip bombs: the entry count is checked at open; before an entry is read its declared
 * sizes give the ratio (refused above lim.max_zip_ratio once it is over 1 MiB, since small
 * parts of zeros compress 1000:1 innocently); while it is read, the bytes actually
 * inflated count against the entry's declared size and against lim.max_zip_bytes for the
 * whole container, so a lying header gains nothing.
 *
 * XML: no network (XML_PARSE_NONET), no DTD loading, no entity substitution (no
 * XML_PARSE_NOENT / DTDLOAD / DTDATTR), and before the parser sees a byte the read
 * callback refuses any "<!ENTITY" declaration (also in UTF-16, by ignoring NUL bytes):
 * none of our formats declares entities, and billion-laughs needs them. Nesting is bounded
 * by lim.max_depth (and by libxml2's own 256 without XML_PARSE_HUGE). The first parser
 * error is kept for the message. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include <libxml/xmlreader.h>

#include "bp_doc_int.h"

#define BP_ZIP_RATIO_FLOOR (1u << 20) /* entries smaller than this are not ratio-checked */

struct bp_zip {
    zip_t *z;              /* the archive */
    const bp_doc_src *src; /* limits, name */
    bp_doc_format fmt;     /* for messages */
    uint64_t inflated;     /* bytes read from all entries so far */
};

struct bp_xml {
    bp_zip *z;          /* container */
    zip_file_t *f;      /* the entry being parsed */
    char *entry;        /* its name */
    uint64_t size;      /* its declared uncompressed size */
    uint64_t read;      /* bytes inflated from it */
    xmlTextReaderPtr r; /* the reader */
    char window[8];     /* last non-NUL bytes seen, for the "<!ENTITY" test */
    int refused;        /* 1 entity declaration, 2 size lie, 3 container total */
    char perr[160];     /* first parser error */
};

static const char *label(const bp_zip *z)
{
    return bp_doc_format_label(z->fmt);
}

int bp_zip_open(bp_zip **out, const bp_doc_src *src, bp_doc_format fmt, bp_err *err)
{
    zip_error_t ze;
    zip_source_t *zs;
    zip_t *za;
    bp_zip *z;
    zip_int64_t n;

    zip_error_init(&ze);
    zs = zip_source_buffer_create(src->in, src->n, 0, &ze);
    if (zs == NULL)
        goto out_zerr;
    za = zip_open_from_source(zs, ZIP_RDONLY, &ze);
    if (za == NULL) {
        zip_source_free(zs);
        goto out_zerr;
    }
    n = zip_get_num_entries(za, 0);
    if (n < 0 || (uint64_t)n > src->lim.max_zip_entries) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s '%s': zip container has %lld entries, over the limit of %u "
                   "(handlers.max_zip_entries)",
                   bp_doc_format_label(fmt), src->name, (long long)n, src->lim.max_zip_entries);
        zip_discard(za);
        return -1;
    }
    z = calloc(1, sizeof(*z));
    if (z == NULL) {
        zip_discard(za);
        bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory opening a zip container");
        return -1;
    }
    z->z = za;
    z->src = src;
    z->fmt = fmt;
    *out = z;
    return 0;

out_zerr:
    bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s '%s': not a readable zip container: %s",
               bp_doc_format_label(fmt), src->name, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return -1;
}

void bp_zip_close(bp_zip *z)
{
    if (z == NULL)
        return;
    zip_discard(z->z);
    free(z);
}

bool bp_zip_has(bp_zip *z, const char *name)
{
    return zip_name_locate(z->z, name, ZIP_FL_NOCASE) >= 0;
}

/* Open an entry after the size and ratio checks. Returns 0, 1 absent, -1 with err. */
static int open_entry(bp_zip *z, const char *name, uint64_t max, zip_file_t **f, uint64_t *size,
                      bp_err *err)
{
    zip_stat_t st;
    zip_int64_t idx = zip_name_locate(z->z, name, ZIP_FL_NOCASE);

    if (idx < 0)
        return 1;
    zip_stat_init(&st);
    if (zip_stat_index(z->z, (zip_uint64_t)idx, 0, &st) != 0 ||
        (st.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) != (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s '%s': cannot read zip entry '%s': %s", label(z),
                   z->src->name, name, zip_strerror(z->z));
        return -1;
    }
    if (st.size > BP_ZIP_RATIO_FLOOR &&
        st.size / (st.comp_size > 0 ? st.comp_size : 1) > z->src->lim.max_zip_ratio) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s '%s': zip entry '%s' inflates %llu bytes from %llu (%llu:1), over the "
                   "ratio limit of %u:1 (handlers.max_zip_ratio): refused as a zip bomb",
                   label(z), z->src->name, name, (unsigned long long)st.size,
                   (unsigned long long)st.comp_size,
                   (unsigned long long)(st.size / (st.comp_size > 0 ? st.comp_size : 1)),
                   z->src->lim.max_zip_ratio);
        return -1;
    }
    if (st.size > max || z->inflated + st.size > z->src->lim.max_zip_bytes) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s '%s': zip entry '%s' is %llu bytes uncompressed, over the limit of %llu "
                   "for the container (handlers.max_zip_bytes)",
                   label(z), z->src->name, name, (unsigned long long)st.size,
                   (unsigned long long)(st.size > max ? max : z->src->lim.max_zip_bytes));
        return -1;
    }
    *f = zip_fopen_index(z->z, (zip_uint64_t)idx, 0);
    if (*f == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s '%s': cannot open zip entry '%s': %s", label(z),
                   z->src->name, name, zip_strerror(z->z));
        return -1;
    }
    *size = st.size;
    return 0;
}

int bp_zip_read(bp_zip *z, const char *name, size_t max, char **buf, size_t *len, bp_err *err)
{
    zip_file_t *f;
    uint64_t size;
    zip_int64_t got;
    char *b;
    int rc = open_entry(z, name, max, &f, &size, err);

    if (rc != 0)
        return rc;
    b = malloc((size_t)size + 1);
    if (b == NULL) {
        zip_fclose(f);
        bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory reading zip entry '%s'", name);
        return -1;
    }
    got = zip_fread(f, b, size);
    if (got < 0 || (uint64_t)got != size) {
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s '%s': zip entry '%s' is damaged: %s", label(z),
                   z->src->name, name, got < 0 ? zip_file_strerror(f) : "shorter than declared");
        zip_fclose(f);
        free(b);
        return -1;
    }
    zip_fclose(f);
    z->inflated += size;
    b[size] = '\0';
    *buf = b;
    *len = (size_t)size;
    return 0;
}

/* The XML reader's input: inflate, count, and refuse entity declarations. */
static int xml_read(void *ctx, char *buf, int len)
{
    bp_xml *x = ctx;
    static const char ent[8] = {'<', '!', 'E', 'N', 'T', 'I', 'T', 'Y'};
    zip_int64_t got;

    if (x->refused)
        return -1;
    got = zip_fread(x->f, buf, (zip_uint64_t)len);
    if (got < 0)
        return -1;
    x->read += (uint64_t)got;
    x->z->inflated += (uint64_t)got;
    if (x->read > x->size) {
        x->refused = 2;
        return -1;
    }
    if (x->z->inflated > x->z->src->lim.max_zip_bytes) {
        x->refused = 3;
        return -1;
    }
    for (zip_int64_t i = 0; i < got; i++) {
        if (buf[i] == '\0')
            continue;
        memmove(x->window, x->window + 1, 7);
        x->window[7] = buf[i];
        if (buf[i] == 'Y' && memcmp(x->window, ent, 8) == 0) {
            x->refused = 1;
            return -1;
        }
    }
    return (int)got;
}

static int xml_close(void *ctx)
{
    (void)ctx;
    return 0;
}

static void xml_error(void *arg, const char *msg, xmlParserSeverities sev,
                      xmlTextReaderLocatorPtr loc)
{
    bp_xml *x = arg;

    if (sev != XML_PARSER_SEVERITY_ERROR && sev != XML_PARSER_SEVERITY_VALIDITY_ERROR)
        return;
    if (x->perr[0] == '\0') {
        snprintf(x->perr, sizeof(x->perr), "line %d: %s", xmlTextReaderLocatorLineNumber(loc), msg);
        size_t l = strlen(x->perr);
        while (l > 0 && (x->perr[l - 1] == '\n' || x->perr[l - 1] == ' '))
            x->perr[--l] = '\0';
    }
}

int bp_xml_open(bp_xml **out, bp_zip *z, const char *name, bp_err *err)
{
    bp_xml *x = calloc(1, sizeof(*x));
    int rc;

    if (x == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory opening an XML part");
        return -1;
    }
    x->z = z;
    rc = open_entry(z, name, z->src->lim.max_zip_bytes, &x->f, &x->size, err);
    if (rc != 0) {
        free(x);
        return rc;
    }
    x->entry = strdup(name);
    x->r = xmlReaderForIO(xml_read, xml_close, x, name, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                              XML_PARSE_COMPACT | XML_PARSE_NOCDATA);
    if (x->r == NULL || x->entry == NULL) {
        bp_err_set(err, BP_ERR_PROTOCOL, ENOMEM, "out of memory opening XML part '%s'", name);
        bp_xml_close(x);
        return -1;
    }
    xmlTextReaderSetErrorHandler(x->r, xml_error, x);
    *out = x;
    return 0;
}

int bp_xml_next(bp_xml *x, bp_err *err)
{
    int rc = xmlTextReaderRead(x->r);
    const bp_doc_src *src = x->z->src;

    if (rc == 1) {
        int depth = xmlTextReaderDepth(x->r);
        if (depth > (int)src->lim.max_depth) {
            bp_err_set(err, BP_ERR_PROTOCOL, 0,
                       "%s '%s': XML part '%s' nests deeper than %u elements "
                       "(handlers.max_xml_depth)",
                       label(x->z), src->name, x->entry, src->lim.max_depth);
            return -1;
        }
        return 1;
    }
    if (rc == 0 && !x->refused)
        return 0;
    switch (x->refused) {
    case 1:
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s '%s': XML part '%s' declares entities (<!ENTITY>): refused, as a "
                   "billion-laughs expansion could hide there and no %s needs them",
                   label(x->z), src->name, x->entry, label(x->z));
        break;
    case 2:
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s '%s': zip entry '%s' inflates past its declared size of %llu bytes: "
                   "refused as a zip bomb",
                   label(x->z), src->name, x->entry, (unsigned long long)x->size);
        break;
    case 3:
        bp_err_set(err, BP_ERR_PROTOCOL, 0,
                   "%s '%s': zip entries inflate past %llu bytes in all, over the limit "
                   "(handlers.max_zip_bytes)",
                   label(x->z), src->name, (unsigned long long)src->lim.max_zip_bytes);
        break;
    default:
        bp_err_set(err, BP_ERR_PROTOCOL, 0, "%s '%s': XML part '%s' is malformed: %s", label(x->z),
                   src->name, x->entry, x->perr[0] != '\0' ? x->perr : "parser error");
    }
    return -1;
}

xmlTextReaderPtr bp_xml_reader(bp_xml *x)
{
    return x->r;
}

void bp_xml_close(bp_xml *x)
{
    if (x == NULL)
        return;
    if (x->r != NULL)
        xmlFreeTextReader(x->r);
    if (x->f != NULL)
        zip_fclose(x->f);
    free(x->entry);
    free(x);
}

bool bp_xml_is(bp_xml *x, int type, const char *local)
{
    const xmlChar *n;

    if (xmlTextReaderNodeType(x->r) != type)
        return false;
    n = xmlTextReaderConstLocalName(x->r);
    return n != NULL && strcmp((const char *)n, local) == 0;
}

char *bp_xml_attr(bp_xml *x, const char *local)
{
    char *v = NULL;

    if (xmlTextReaderMoveToFirstAttribute(x->r) != 1)
        return NULL;
    do {
        const xmlChar *n = xmlTextReaderConstLocalName(x->r);
        if (n != NULL && strcmp((const char *)n, local) == 0) {
            const xmlChar *val = xmlTextReaderConstValue(x->r);
            v = strdup(val != NULL ? (const char *)val : "");
            break;
        }
    } while (xmlTextReaderMoveToNextAttribute(x->r) == 1);
    xmlTextReaderMoveToElement(x->r);
    return v;
}

char *bp_xml_attr_rel_id(bp_xml *x)
{
    char *v = NULL;

    if (xmlTextReaderMoveToFirstAttribute(x->r) != 1)
        return NULL;
    do {
        const xmlChar *n = xmlTextReaderConstLocalName(x->r);
        const xmlChar *ns = xmlTextReaderConstNamespaceUri(x->r);
        if (n != NULL && ns != NULL && strcmp((const char *)n, "id") == 0 &&
            strstr((const char *)ns, "relationships") != NULL) {
            const xmlChar *val = xmlTextReaderConstValue(x->r);
            v = strdup(val != NULL ? (const char *)val : "");
            break;
        }
    } while (xmlTextReaderMoveToNextAttribute(x->r) == 1);
    xmlTextReaderMoveToElement(x->r);
    return v;
}

char *bp_zip_resolve(const char *base, const char *target)
{
    size_t cap = strlen(base) + strlen(target) + 2, len = 0;
    char *out = malloc(cap);
    const char *p;

    if (out == NULL)
        return NULL;
    if (target[0] == '/') {
        target++;
    } else {
        const char *slash = strrchr(base, '/');
        if (slash != NULL) {
            len = (size_t)(slash - base) + 1;
            memcpy(out, base, len);
        }
    }
    out[len] = '\0';
    p = target;
    while (*p != '\0') {
        const char *seg_end = strchr(p, '/');
        size_t sl = seg_end != NULL ? (size_t)(seg_end - p) : strlen(p);
        if (sl == 2 && p[0] == '.' && p[1] == '.') {
            if (len > 0)
                len--; /* drop the trailing '/' */
            while (len > 0 && out[len - 1] != '/')
                len--;
        } else if (!(sl == 1 && p[0] == '.') && sl > 0) {
            memcpy(out + len, p, sl);
            len += sl;
            if (seg_end != NULL)
                out[len++] = '/';
        }
        out[len] = '\0';
        p = seg_end != NULL ? seg_end + 1 : p + sl;
    }
    return out;
}

bp_doc_format bp_doc_zip_detect(const char *in, size_t n)
{
    bp_doc_src src = {.in = in, .n = n, .name = "document", .lim = bp_doc_limits_resolve(NULL)};
    bp_doc_format f = BP_FMT_UNKNOWN;
    bp_zip *z;
    bp_err err;
    char *b = NULL;
    size_t len;

    if (bp_zip_open(&z, &src, BP_FMT_UNKNOWN, &err) != 0)
        return BP_FMT_UNKNOWN;
    if (bp_zip_read(z, "mimetype", 256, &b, &len, &err) == 0) {
        static const struct {
            const char *mime;
            bp_doc_format f;
        } odf[] = {{"application/vnd.oasis.opendocument.text", BP_FMT_ODT},
                   {"application/vnd.oasis.opendocument.presentation", BP_FMT_ODP},
                   {"application/vnd.oasis.opendocument.spreadsheet", BP_FMT_ODS},
                   {"application/epub+zip", BP_FMT_EPUB}};
        while (len > 0 && (b[len - 1] == '\n' || b[len - 1] == '\r' || b[len - 1] == ' '))
            b[--len] = '\0';
        for (size_t i = 0; i < sizeof(odf) / sizeof(odf[0]); i++)
            if (strcmp(b, odf[i].mime) == 0)
                f = odf[i].f;
        free(b);
        b = NULL;
    }
    if (f == BP_FMT_UNKNOWN &&
        bp_zip_read(z, "[Content_Types].xml", 1 << 20, &b, &len, &err) == 0) {
        if (strstr(b, "wordprocessingml.document.main") != NULL ||
            strstr(b, "ms-word.document.macroEnabled.main") != NULL ||
            strstr(b, "wordprocessingml.template.main") != NULL)
            f = BP_FMT_DOCX;
        else if (strstr(b, "presentationml.presentation.main") != NULL ||
                 strstr(b, "presentationml.slideshow.main") != NULL ||
                 strstr(b, "ms-powerpoint.presentation.macroEnabled.main") != NULL)
            f = BP_FMT_PPTX;
        else if (strstr(b, "spreadsheetml.sheet.main") != NULL ||
                 strstr(b, "ms-excel.sheet.macroEnabled.main") != NULL)
            f = BP_FMT_XLSX;
        free(b);
    }
    bp_zip_close(z);
    return f;
}
