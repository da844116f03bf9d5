/*
 * main.c: runs every C unit-test suite and prints "N passed, N failed".
 * Exit status 0 only when nothing failed.  SIMREP_TEST_SUITES=io,alloc runs
 * only the suites named (the Valgrind run in `make check` uses a subset).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int harness_passed = 0, harness_failed = 0;

void suite_io(void);
void suite_moments(void);
void suite_measures(void);
void suite_rbf(void);
void suite_embed(void);
void suite_plot(void);
void suite_alloc(void);
void suite_edge(void);
void suite_layout(void);
void suite_partition(void);
void suite_cancel(void);
void suite_rows(void);
void suite_stats(void);
void suite_registry(void);
void suite_errors(void);
void suite_validate(void);
void suite_rounding(void);
void suite_faults(void);

/* Whether suite name is selected by SIMREP_TEST_SUITES (unset: all). */
static int selected(const char *name)
{
    const char *only = getenv("SIMREP_TEST_SUITES");
    if (!only || !*only)
        return 1;
    size_t len = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += len)
        if ((p == only || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return 1;
    return 0;
}

#define RUN(suite)                 \
    do {                           \
        if (selected(#suite))      \
            suite_##suite();       \
    } while (0)

int main(void)
{
    RUN(io);
    RUN(moments);
    RUN(measures);
    RUN(rbf);
    RUN(embed);
    RUN(plot);
    RUN(alloc);
    RUN(edge);
    RUN(layout);
    RUN(cancel);
    RUN(partition);
    RUN(errors);
    RUN(rows);
    RUN(stats);
    RUN(registry);
    RUN(validate);
    RUN(rounding);
    RUN(faults);
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed == 0 ? 0 : 1;
}
