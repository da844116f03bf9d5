/* test_moments.c: unit tests (to be written). */
#include "harness.h"

void suite_moments(void)
{
}
