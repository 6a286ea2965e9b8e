/* common/thread_win.c - threads and condition variables on Windows:
 * CreateThread, and CONDITION_VARIABLE paired with the SRWLOCK that sys.h
 * uses as coio__mutex_t (exclusive mode). SleepConditionVariableSRW takes
 * milliseconds and may return early: the deadline is re-checked against
 * coio__now_ns by the caller's loop, and the wait is rounded up so it never
 * returns COIO_ETIMEDOUT before the deadline. */
#include <windows.h>

#include <stdlib.h>

#include "coio/error.h"
#include "error_internal.h"
#include "thread.h"

struct coio__thread {
  HANDLE h;
  void (*fn)(void *);
  void *arg;
};

static DWORD WINAPI thread_main(LPVOID p) {
  coio__thread_t *t = p;
  t->fn(t->arg);
  return 0;
}

int coio__thread_start(coio__thread_t **out, void (*fn)(void *), void *arg) {
  coio__thread_t *t = calloc(1, sizeof *t);
  if (!t)
    return COIO_ENOMEM;
  t->fn = fn;
  t->arg = arg;
  t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
  if (!t->h) {
    int rc = coio__err_from_win32(GetLastError());
    free(t);
    return rc;
  }
  *out = t;
  return 0;
}

void coio__thread_join(coio__thread_t *t) {
  WaitForSingleObject(t->h, INFINITE);
  CloseHandle(t->h);
  free(t);
}

void coio__cond_init(coio__cond_t *c) { InitializeConditionVariable(c); }
void coio__cond_destroy(coio__cond_t *c) { (void)c; }
void coio__cond_signal(coio__cond_t *c) { WakeConditionVariable(c); }
void coio__cond_broadcast(coio__cond_t *c) { WakeAllConditionVariable(c); }

void coio__cond_wait(coio__cond_t *c, coio__mutex_t *m) {
  SleepConditionVariableSRW(c, m, INFINITE, 0);
}

int coio__cond_wait_until(coio__cond_t *c, coio__mutex_t *m, uint64_t deadline_ns) {
  uint64_t now = coio__now_ns(), ms;
  if (now >= deadline_ns)
    return COIO_ETIMEDOUT;
  ms = (deadline_ns - now + 999999u) / 1000000u;
  if (ms >= INFINITE)
    ms = INFINITE - 1;
  /* FALSE with ERROR_TIMEOUT, or TRUE: either way the caller re-checks
   * its condition; report a timeout only once the deadline really passed. */
  SleepConditionVariableSRW(c, m, (DWORD)ms, 0);
  return coio__now_ns() >= deadline_ns ? COIO_ETIMEDOUT : 0;
}

int coio__atomic_add(coio__atomic_int *a, int delta) {
  return (int)InterlockedExchangeAdd(a, delta) + delta;
}

int coio__atomic_cas(coio__atomic_int *a, int expected, int desired) {
  return InterlockedCompareExchange(a, desired, expected) == expected ? 1 : 0;
}

unsigned coio__cpu_count(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors > 0 ? (unsigned)si.dwNumberOfProcessors : 1u;
}
