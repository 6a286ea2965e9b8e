/* tests/test_uring_blocked.c - what happens when io_uring is blocked, as
 * Docker's seccomp profile or kernel.io_uring_disabled do: a seccomp filter
 * makes io_uring_setup fail with EPERM in this process, then
 *   - the default loop still works (epoll),
 *   - io_uring asked for by name fails with COIO_ENOBACKEND,
 *   - the proactor kind asked for explicitly fails with COIO_ENOBACKEND,
 *   - COIO_BACKEND=io_uring fails the same clear way.
 * Linux only; the filter is installed before coio probes anything. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"

static int block_io_uring(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog;
  prog.len = (unsigned short)(sizeof filter / sizeof filter[0]);
  prog.filter = filter;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void loops_when_io_uring_is_blocked(void **state) {
  coio_loop_t *loop = NULL;
  coio_loop_options_t o;
  const char *names[8];
  size_t n = coio_backend_list(names, 8), i;
  int have_uring = 0;
  (void)state;
  for (i = 0; i < n && i < 8; i++)
    have_uring |= strcmp(names[i], "io_uring") == 0;

  /* the filter really blocks it */
  errno = 0;
  assert_int_equal(syscall(__NR_io_uring_setup, 4, NULL), -1);
  assert_int_equal(errno, EPERM);

  /* the default loop still works, on epoll */
  assert_int_equal(coio_loop_new(&loop, NULL), 0);
  assert_string_equal(coio_loop_backend(loop), "epoll");
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(coio_loop_free(loop), 0);

  memset(&o, 0, sizeof o);
  o.backend = "io_uring";
  loop = NULL;
  assert_int_equal(coio_loop_new(&loop, &o), have_uring ? COIO_ENOBACKEND : COIO_EINVAL);
  assert_null(loop);
  if (have_uring)
    assert_int_equal(coio_backend_probe("io_uring"), COIO_ENOBACKEND);

  o.backend = NULL;
  o.kind = COIO_LOOP_PROACTOR;
  assert_int_equal(coio_loop_new(&loop, &o), COIO_ENOBACKEND);
  assert_null(loop);

  setenv("COIO_BACKEND", "io_uring", 1);
  assert_int_equal(coio_loop_new(&loop, NULL), have_uring ? COIO_ENOBACKEND : COIO_EINVAL);
  setenv("COIO_BACKEND", "selector", 1);
  assert_int_equal(coio_loop_new(&loop, NULL), 0);
  assert_string_equal(coio_loop_backend(loop), "epoll");
  assert_int_equal(coio_loop_free(loop), 0);
  unsetenv("COIO_BACKEND");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(loops_when_io_uring_is_blocked),
  };
  unsetenv("COIO_BACKEND");
  if (block_io_uring() != 0) {
    printf("SKIP: cannot install a seccomp filter here: %s\n", strerror(errno));
    return COIO_TEST_SKIP;
  }
  return cmocka_run_group_tests_name("uring_blocked", tests, NULL, NULL);
}
