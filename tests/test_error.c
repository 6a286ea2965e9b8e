/* tests/test_error.c - the portable error codes and their messages. */
#include <string.h>

#include "harness.h"

static const int all_codes[] = {
#define CODE_(name, val, msg) COIO_##name,
    COIO_ERRNO_MAP(CODE_)
#undef CODE_
};

static void every_code_has_a_distinct_message_and_name(void **state) {
  size_t i, j, n = sizeof all_codes / sizeof all_codes[0];
  (void)state;
  for (i = 0; i < n; i++) {
    assert_true(all_codes[i] < 0);
    assert_non_null(coio_strerror(all_codes[i]));
    assert_true(strncmp(coio_err_name(all_codes[i]), "COIO_E", 6) == 0);
    for (j = 0; j < i; j++) {
      assert_int_not_equal(all_codes[i], all_codes[j]);
      assert_string_not_equal(coio_strerror(all_codes[i]), coio_strerror(all_codes[j]));
      assert_string_not_equal(coio_err_name(all_codes[i]), coio_err_name(all_codes[j]));
    }
  }
}

static void unknown_codes_are_named_unknown(void **state) {
  (void)state;
  assert_string_equal(coio_strerror(0), "success");
  assert_string_equal(coio_strerror(-9999), "unknown error");
  assert_string_equal(coio_strerror(12345), "unknown error");
  assert_string_equal(coio_err_name(-9999), "COIO_EUNKNOWN");
  assert_string_equal(coio_err_name(COIO_EINVAL), "COIO_EINVAL");
  assert_string_equal(coio_strerror(COIO_ECANCELED), "operation cancelled");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_code_has_a_distinct_message_and_name),
      cmocka_unit_test(unknown_codes_are_named_unknown),
  };
  return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
