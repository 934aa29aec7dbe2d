/* bp_poppler.h -- poppler's GLib API, loaded with dlopen() by the process that parses a PDF.
 *
 * Linking libpoppler-glib maps it and the 40-odd libraries it needs (glib, gobject, gio,
 * cairo, pixman, freetype, lcms2, nss, libstdc++, ...) into every bullpen process at start:
 * 7 MB of RSS and 1.1 MB of relocated, private pages each, in the master and in every
 * worker, which with the sandbox never parse a PDF themselves. So bullpen is built against
 * the headers only and the library is opened where a PDF is parsed: in the sandbox's
 * extractor, before it forks its parse children (they inherit it), or in the worker at its
 * first PDF when the sandbox is off. Without the library every other format still works and
 * a PDF job fails with the package to install.
 *
 * Owns: the dlopen handle (never closed: poppler keeps global state) and the table of
 * function pointers, filled once. */
#ifndef BP_POPPLER_H
#define BP_POPPLER_H

#include <poppler.h>

#include "bp_err.h"

#ifndef BP_POPPLER_GLIB_SONAME
#define BP_POPPLER_GLIB_SONAME "libpoppler-glib.so.8" /* Debian 12: package libpoppler-glib8 */
#endif

/* X(member, symbol): every function bullpen calls. The members do not take the symbols'
 * names, since glib defines some of them as macros as well. */
#define BP_POPPLER_FUNCTIONS(X)                                 \
    X(document_new_from_bytes, poppler_document_new_from_bytes) \
    X(document_get_n_pages, poppler_document_get_n_pages)       \
    X(document_get_page, poppler_document_get_page)             \
    X(document_get_title, poppler_document_get_title)           \
    X(document_get_author, poppler_document_get_author)         \
    X(document_find_dest, poppler_document_find_dest)           \
    X(page_get_text, poppler_page_get_text)                     \
    X(index_iter_new, poppler_index_iter_new)                   \
    X(index_iter_get_action, poppler_index_iter_get_action)     \
    X(index_iter_get_child, poppler_index_iter_get_child)       \
    X(index_iter_next, poppler_index_iter_next)                 \
    X(index_iter_free, poppler_index_iter_free)                 \
    X(action_free, poppler_action_free)                         \
    X(dest_free, poppler_dest_free)                             \
    X(error_quark, poppler_error_quark)                         \
    X(bytes_new_static, g_bytes_new_static)                     \
    X(bytes_unref, g_bytes_unref)                               \
    X(error_free, g_error_free)                                 \
    X(free, g_free)                                             \
    X(object_unref, g_object_unref)

typedef struct bp_poppler {
#define BP_POPPLER_MEMBER(member, symbol) __typeof__(symbol) *member;
    BP_POPPLER_FUNCTIONS(BP_POPPLER_MEMBER)
#undef BP_POPPLER_MEMBER
} bp_poppler;

/* The loaded API, opening the library at the first call (thread-safe). NULL when it cannot
 * be loaded: err names the library, why, and the package to install. */
const bp_poppler *bp_poppler_get(bp_err *err);

#endif /* BP_POPPLER_H */
