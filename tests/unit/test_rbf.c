/* test_rbf.c: unit tests (to be written). */
#include "harness.h"

void suite_rbf(void)
{
}
