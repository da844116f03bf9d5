/*
 * test_util.h: a deterministic random generator for the C tests
 * (xorshift64* with Box-Muller normals), so every run sees the same data;
 * and the allocator that fails its k-th call and counts live blocks
 * (test_alloc.c, test_faults.c).
 */
#ifndef SIMREP_TEST_UTIL_H
#define SIMREP_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct test_rng {
    uint64_t state; /* any non-zero seed */
} test_rng;

static inline double test_uniform(test_rng *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    uint64_t v = r->state * 2685821657736338717ULL;
    return ((v >> 11) + 0.5) * (1.0 / 9007199254740992.0); /* (0, 1) */
}

static inline double test_normal(test_rng *r)
{
    double u = test_uniform(r), v = test_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* A simrep_allocator's user data: call number fail_at (0-based; -1 never)
 * returns NULL; live counts the blocks not yet freed. */
typedef struct counting {
    long calls, fail_at, live;
} counting;

static inline void *counting_malloc(void *user, size_t size)
{
    counting *c = user;
    if (c->calls++ == c->fail_at)
        return NULL;
    void *p = malloc(size ? size : 1);
    if (p)
        c->live++;
    return p;
}

static inline void counting_free(void *user, void *ptr)
{
    counting *c = user;
    if (ptr) {
        c->live--;
        free(ptr);
    }
}

#endif
