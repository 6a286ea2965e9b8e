/* tests/harness.c - see harness.h. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <sched.h>
#endif

const char *coio_test_backend = NULL;

coio_loop_t *test_loop_new(void) {
  coio_loop_t *loop = NULL;
  coio_loop_options_t o;
  int rc;
  memset(&o, 0, sizeof o);
  o.backend = coio_test_backend;
  rc = coio_loop_new(&loop, &o);
  if (rc != 0)
    fail_msg("coio_loop_new(%s): %s", coio_test_backend, coio_strerror(rc));
  assert_string_equal(coio_loop_backend(loop), coio_test_backend);
  return loop;
}

void test_loop_free(coio_loop_t *loop) { assert_int_equal(coio_loop_free(loop), 0); }

void test_stop_cb(coio_loop_t *loop, void *arg) {
  (void)arg;
  coio_loop_stop(loop);
}

typedef struct watchdog {
  int fired;
} watchdog_t;

static void watchdog_fire(coio_loop_t *loop, void *arg) {
  ((watchdog_t *)arg)->fired = 1;
  coio_loop_stop(loop);
}

int test_run_bounded(coio_loop_t *loop, double seconds) {
  watchdog_t w = {0};
  coio_handle_t h;
  assert_int_equal(coio_call_later(loop, seconds, watchdog_fire, &w, &h), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  coio_handle_cancel(loop, h);
  return w.fired ? -1 : 0;
}

static void clear_backend_env(void) {
  /* The tests choose their backend by name; COIO_BACKEND would override it. */
#ifdef _WIN32
  _putenv("COIO_BACKEND=");
#else
  unsetenv("COIO_BACKEND");
#endif
}

int test_main(int argc, char **argv, const char *suite, const struct CMUnitTest *tests,
              size_t count) {
  char group[128];
  const char *names[8];
  int rc;
  clear_backend_env();
  if (argc < 2) {
    size_t n = coio_backend_list(names, 8);
    if (n == 0) {
      fprintf(stderr, "no backend in this build\n");
      return 1;
    }
    coio_test_backend = names[0];
  } else {
    coio_test_backend = argv[1];
  }
  rc = coio_backend_probe(coio_test_backend);
  if (rc != 0) {
    printf("SKIP: %s/%s: backend not available here: %s\n", suite, coio_test_backend,
           coio_strerror(rc));
    return COIO_TEST_SKIP;
  }
  snprintf(group, sizeof group, "%s/%s", suite, coio_test_backend);
  return _cmocka_run_group_tests(group, tests, count, NULL, NULL);
}

/* ---- tests written as tasks ------------------------------------------------ */

coio_loop_t *test_task_loop;
static char task_failure[512];

static const char *name_of(long v) { return v < 0 ? coio_err_name((int)v) : ""; }

int test_note_fail(int line, const char *what, long got, long want) {
  if (!task_failure[0])
    snprintf(task_failure, sizeof task_failure, "line %d: %s: got %ld %s, want %ld %s", line,
             what, got, name_of(got), want, name_of(want));
  return COIO_EUNKNOWN;
}

void test_run_main(coio_task_fn fn, void *arg, double bound) {
  coio_task_t *t;
  coio_handle_t h;
  int rc;
  task_failure[0] = 0;
  test_task_loop = test_loop_new();
  assert_int_equal(coio_task_spawn(test_task_loop, fn, arg, NULL, &t), 0);
  assert_int_equal(coio_call_later(test_task_loop, bound, test_stop_cb, NULL, &h), 0);
  rc = coio_loop_run_until_complete(test_task_loop, t);
  coio_handle_cancel(test_task_loop, h);
  if (task_failure[0])
    fail_msg("%s", task_failure);
  assert_true(coio_future_done(t)); /* else the watchdog stopped it */
  assert_int_equal(rc, 0);
  coio_future_unref(t);
  test_loop_free(test_task_loop);
  test_task_loop = NULL;
}

coio_task_t *test_spawn(coio_task_fn fn, void *arg) {
  coio_task_t *t = NULL;
  if (coio_task_spawn(test_task_loop, fn, arg, NULL, &t) != 0)
    return NULL;
  return t;
}

/* ---- threads ---------------------------------------------------------- */

struct test_thread {
  void (*fn)(void *);
  void *arg;
#ifdef _WIN32
  HANDLE h;
#else
  pthread_t t;
#endif
};

#ifdef _WIN32
static DWORD WINAPI thread_main(LPVOID p) {
  test_thread_t *t = p;
  t->fn(t->arg);
  return 0;
}
#else
static void *thread_main(void *p) {
  test_thread_t *t = p;
  t->fn(t->arg);
  return NULL;
}
#endif

test_thread_t *test_thread_start(void (*fn)(void *), void *arg) {
  test_thread_t *t = calloc(1, sizeof *t);
  assert_non_null(t);
  t->fn = fn;
  t->arg = arg;
#ifdef _WIN32
  t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
  assert_non_null(t->h);
#else
  assert_int_equal(pthread_create(&t->t, NULL, thread_main, t), 0);
#endif
  return t;
}

void test_thread_join(test_thread_t *t) {
#ifdef _WIN32
  WaitForSingleObject(t->h, INFINITE);
  CloseHandle(t->h);
#else
  pthread_join(t->t, NULL);
#endif
  free(t);
}

void test_yield(void) {
#ifdef _WIN32
  SwitchToThread();
#else
  sched_yield();
#endif
}

int test_under_wine(void) {
#ifdef _WIN32
  HMODULE ntdll = GetModuleHandleA("ntdll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
  return 0;
#endif
}
