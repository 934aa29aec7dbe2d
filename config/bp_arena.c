/* bp_arena.c -- the allocator of one configuration generation.
 *
 * A loaded bp_config is immutable and dies as a whole (a reload builds a new one), so its
 * strings and arrays come from a bump allocator over a list of blocks: no per-field free,
 * no leaks on an error path half-way through a load. The blocks are wiped before they are
 * freed because they hold the Redis password and the control key. */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "bp_config_int.h"

#define BP_ARENA_BLOCK 8192 /* most configs fit in one or two blocks */

typedef struct bp_arena_block {
    struct bp_arena_block *next; /* older block */
    size_t size;                 /* usable bytes in data */
    size_t used;                 /* bytes handed out */
    alignas(max_align_t) unsigned char data[];
} bp_arena_block;

struct bp_arena {
    bp_arena_block *head; /* newest block, allocations come from here */
};

bp_arena *bp_arena_new(void)
{
    return calloc(1, sizeof(bp_arena));
}

void *bp_arena_alloc(bp_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    bp_arena_block *b = a->head;
    size_t need = (n + align - 1) & ~(align - 1);

    if (need == 0)
        need = align;
    if (b == NULL || b->size - b->used < need) {
        size_t size = need > BP_ARENA_BLOCK ? need : BP_ARENA_BLOCK;

        b = calloc(1, sizeof(*b) + size);
        if (b == NULL)
            return NULL;
        b->size = size;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p; /* calloc'd and never reused: already zero */
}

char *bp_arena_strdup(bp_arena *a, const char *s)
{
    size_t len;
    char *p;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    p = bp_arena_alloc(a, len + 1);
    if (p != NULL)
        memcpy(p, s, len + 1);
    return p;
}

void bp_arena_free(bp_arena *a)
{
    if (a == NULL)
        return;
    while (a->head != NULL) {
        bp_arena_block *b = a->head;

        a->head = b->next;
        explicit_bzero(b->data, b->used); /* the password and control key live here */
        free(b);
    }
    free(a);
}
