/* test_measures.c: unit tests (to be written). */
#include "harness.h"

void suite_measures(void)
{
}
