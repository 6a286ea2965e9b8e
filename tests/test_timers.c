#include "harness.h"
static void placeholder(void **s) { (void)s; }
static const struct CMUnitTest tests[] = {cmocka_unit_test(placeholder)};
TEST_MAIN("timers", tests)
