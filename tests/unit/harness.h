/*
 * harness.h: the C unit tests' minimal harness.  Each suite file defines
 * one `void suite_NAME(void)` listed in main.c; checks count into two
 * global counters and print the failing expression with its file and line.
 * The runner ends with the line "N passed, N failed" that CI reads.
 */
#ifndef SIMREP_TEST_HARNESS_H
#define SIMREP_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>

extern int harness_passed, harness_failed;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (cond) {                                                                \
            harness_passed++;                                                      \
        } else {                                                                   \
            harness_failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
        }                                                                          \
    } while (0)

/* |a - b| <= tol, printing both values on failure. */
#define CHECK_CLOSE(a, b, tol)                                                     \
    do {                                                                           \
        double check_a_ = (a), check_b_ = (b);                                     \
        if (fabs(check_a_ - check_b_) <= (tol)) {                                  \
            harness_passed++;                                                      \
        } else {                                                                   \
            harness_failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s = %.17g, %s = %.17g (tol %g)\n",       \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol)); \
        }                                                                          \
    } while (0)

/* A status equals the expected one; prints the context message otherwise. */
#define CHECK_STATUS(ctx, call, expected)                                          \
    do {                                                                           \
        simrep_status check_s_ = (call);                                           \
        if (check_s_ == (expected)) {                                              \
            harness_passed++;                                                      \
        } else {                                                                   \
            harness_failed++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s returned %d (%s), expected %d\n",      \
                    __FILE__, __LINE__, #call, (int)check_s_,                      \
                    simrep_ctx_message(ctx), (int)(expected));                     \
        }                                                                          \
    } while (0)

#endif
