/* bp_chunk.h -- splitting extracted text (bp_extract.h) into overlapping chunks of at most
 * chunk_words words, by offsets into the text: a chunk is never copied here.
 *
 * A unit of the budget is a white-space separated word; CJK text, which has no spaces, is
 * also split after each sentence end (。！？), so a Chinese paragraph is cut by sentences
 * rather than kept whole. A chunk ends at a sentence end (. ! ? possibly followed by a
 * closing quote or bracket, or 。！？) when one lies in the last fifth of the budget,
 * otherwise after exactly chunk_words units. The next chunk starts overlap_words units
 * before the previous one's end. */
#ifndef BP_CHUNK_H
#define BP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bp_chunker {
    const char *buf;      /* the text: words separated by one ' ' (borrowed) */
    size_t len;           /* bytes in buf */
    size_t pos;           /* offset where the next chunk starts */
    int chunk_words;      /* budget per chunk, >= 1 */
    int overlap_words;    /* units shared by consecutive chunks, < chunk_words */
    int min_cut;          /* fewest units a sentence-end cut may leave in a chunk */
    size_t *starts;       /* unit start offsets of the chunk being cut (chunk_words + 1 entries) */
    bool done;            /* the last chunk was returned */
    const size_t *bounds; /* sorted offsets where a section starts (headings), borrowed */
    size_t n_bounds;      /* entries in bounds */
    size_t next_bound;    /* first bound not yet passed */
    int min_section;      /* fewest units a chunk keeps before a section start ends it */
} bp_chunker;

/* Start cutting buf. chunk_words < 1 is taken as 1; overlap_words is clamped to
 * [0, chunk_words - 1]. Returns 0, or -1 out of memory. */
int bp_chunker_init(bp_chunker *c, const char *buf, size_t len, int chunk_words, int overlap_words);

/* The next chunk as *off and *len into buf. Returns false when there are no more (an empty
 * text has no chunks). */
bool bp_chunker_next(bp_chunker *c, size_t *off, size_t *len);

/* Make chunks follow sections: a chunk that has at least chunk_words / 4 units (and more
 * than the overlap) ends before a word at one of the n sorted offsets in bounds (heading
 * starts), and the next chunk starts exactly there, without overlap, so no chunk straddles
 * a heading it could be cited under wrongly. bounds is borrowed; call before the first
 * bp_chunker_next(). */
void bp_chunker_set_bounds(bp_chunker *c, const size_t *bounds, size_t n);

void bp_chunker_fini(bp_chunker *c);

#endif /* BP_CHUNK_H */
