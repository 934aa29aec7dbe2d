/* bp_docresult.h -- what the document handler stores: the job's result object (format,
 * encoding, pages, title, author, pages without text, ...) and, with chunk_format = "json",
 * each chunk as an object saying where it came from (offset, page range, heading path).
 *
 * Pure: a bp_doc (worker/extract/bp_doc.h) and offsets in, JSON text out. */
#ifndef BP_DOCRESULT_H
#define BP_DOCRESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "bp_doc.h"

/* Walks the chunks of one document in order (offsets never decrease), keeping the heading
 * path in effect so each chunk costs O(its headings), not O(all headings). */
typedef struct bp_chunk_label {
    const bp_doc *doc; /* borrowed */
    size_t next;       /* first heading not yet passed */
    size_t path[9];    /* path[l-1]: index of the open heading of level l */
    bool open[9];      /* whether level l has an open heading */
    size_t page;       /* index of the page the last chunk started on */
} bp_chunk_label;

void bp_chunk_label_init(bp_chunk_label *l, const bp_doc *doc);

/* The chunk [off, off + len) of doc->text as a JSON object:
 *   {"text":"...","offset":O,"length":L,"pages":[first,last],"headings":["A","A.1"]}
 * ("pages" only for paged formats; "headings" empty when none is open). Chunks must be
 * asked for in increasing offset. Returns a malloc'd NUL-terminated string (*out_len its
 * length), or NULL out of memory. */
char *bp_chunk_json(bp_chunk_label *l, size_t off, size_t len, size_t *out_len);

/* The offsets of doc's headings as one malloc'd array (for bp_chunker_set_bounds()), or
 * NULL when there are none or memory ran out (*n says which: 0 none). */
size_t *bp_doc_heading_offsets(const bp_doc *doc, size_t *n);

/* The job's result object: sha256, bytes, format, encoding (text formats), words, chunks,
 * chunk_format, pages and page_unit (paged formats), title, author, headings count,
 * pages_without_text with a sentence saying they were likely scanned, "cached": false.
 * Returns a malloc'd string, or NULL out of memory. */
char *bp_docresult_json(const bp_doc *doc, const char *sha, size_t bytes, size_t n_chunks,
                        bool json_chunks);

#endif /* BP_DOCRESULT_H */
