/*
 * main.c: runs every C unit-test suite and prints "N passed, N failed".
 * Exit status 0 only when nothing failed.
 */
#include <stdio.h>

#include "harness.h"

int harness_passed = 0, harness_failed = 0;

void suite_io(void);
void suite_moments(void);
void suite_measures(void);
void suite_rbf(void);
void suite_embed(void);

int main(void)
{
    suite_io();
    suite_moments();
    suite_measures();
    suite_rbf();
    suite_embed();
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed == 0 ? 0 : 1;
}
