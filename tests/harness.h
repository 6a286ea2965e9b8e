/* tests/harness.h - the backend matrix and small helpers for CMocka tests.
 *
 * A loop-level test binary is registered once per backend the platform has
 * (tests/CMakeLists.txt): `test_loop epoll` runs the group "loop/epoll".
 * A backend that cannot run here (io_uring blocked by seccomp, say) makes the
 * binary print the reason and exit 77, which CTest reports as skipped. */
#ifndef COIO_TESTS_HARNESS_H
#define COIO_TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four headers above. */
#include <cmocka.h>

#include "coio/coio.h"

#define COIO_TEST_SKIP 77

/* The backend this run tests. */
extern const char *coio_test_backend;

/* A new loop on the backend under test; fails the test on error. */
coio_loop_t *test_loop_new(void);
/* Closes and frees; fails the test on error. */
void test_loop_free(coio_loop_t *loop);

/* A callback that stops the loop it runs on. */
void test_stop_cb(coio_loop_t *loop, void *arg);

/* Runs the loop until stopped, with a watchdog: returns 0 if the loop was
 * stopped by the test, -1 if the watchdog (seconds) had to stop it. */
int test_run_bounded(coio_loop_t *loop, double seconds);

/* While callbacks are ready, the loop polls the backend for I/O at least
 * once per 16 callbacks run (common/loop.c: COIO__BUSY_POLL_CALLBACKS), not
 * at every iteration. A test that lets the loop "look at I/O n times" with
 * a chain of call_soon callbacks (one per iteration) runs n times this many. */
#define TEST_ITERATIONS_PER_POLL 17

/* Runs a CMocka group named "<suite>/<backend>" for the backend in argv[1]. */
int test_main(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
              size_t count);
#define TEST_MAIN(suite, tests) \
  int main(int argc, char **argv) { return test_main(argc, argv, suite, tests, sizeof tests / sizeof tests[0]); }

/* ---- tests written as tasks ------------------------------------------------
 * A test body runs as the main task of a fresh loop (test_task_loop).
 * CMocka's asserts cannot longjmp out of a task's stack, so inside tasks
 * CHECK / CHECK_EQ record the first failure and return from the task
 * function; test_run_main then fails the test with it. */
extern coio_loop_t *test_task_loop;
int test_note_fail(int line, const char *what, long got, long want);
#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      return test_note_fail(__LINE__, #cond, 0, 1);                                                \
  } while (0)
#define CHECK_EQ(expr, want)                                                                       \
  do {                                                                                             \
    long got_ = (long)(expr), want_ = (long)(want);                                                \
    if (got_ != want_)                                                                             \
      return test_note_fail(__LINE__, #expr, got_, want_);                                         \
  } while (0)
/* Runs fn(arg) as the main task of a new loop (freed after) under a
 * watchdog of bound seconds; fails the test with the first CHECK failure,
 * if the watchdog fired, or if the task did not return 0. */
void test_run_main(coio_task_fn fn, void *arg, double bound);
/* Spawns fn(arg) on test_task_loop; NULL on error. */
coio_task_t *test_spawn(coio_task_fn fn, void *arg);

/* Threads, for the tests where other threads meet the loop. */
typedef struct test_thread test_thread_t;
test_thread_t *test_thread_start(void (*fn)(void *), void *arg);
void test_thread_join(test_thread_t *t);
void test_yield(void);

/* 1 when running under Wine (for documented Wine differences). */
int test_under_wine(void);

#endif
