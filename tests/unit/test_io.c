/* test_io.c: unit tests (to be written). */
#include "harness.h"

void suite_io(void)
{
}
