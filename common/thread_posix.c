/* common/thread_posix.c - threads and condition variables on pthreads.
 *
 * Condition variables wait on CLOCK_MONOTONIC, the clock of coio__now_ns
 * (clock_posix.c), so a wall-clock change never stretches or cuts a
 * timeout. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "coio/error.h"
#include "error_internal.h"
#include "thread.h"

struct coio__thread {
  pthread_t tid;
  void (*fn)(void *);
  void *arg;
};

static void *thread_main(void *p) {
  coio__thread_t *t = p;
  t->fn(t->arg);
  return NULL;
}

int coio__thread_start(coio__thread_t **out, void (*fn)(void *), void *arg) {
  coio__thread_t *t = calloc(1, sizeof *t);
  sigset_t all, saved;
  int err;
  if (!t)
    return COIO_ENOMEM;
  t->fn = fn;
  t->arg = arg;
  /* The new thread inherits the creating thread's mask: block everything
   * but the signals a fault raises synchronously in the faulting thread. */
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGTRAP);
  sigdelset(&all, SIGABRT);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  err = pthread_create(&t->tid, NULL, thread_main, t);
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  if (err != 0) {
    free(t);
    return err == EAGAIN ? COIO_EAGAIN : coio__err_from_errno(err);
  }
  *out = t;
  return 0;
}

void coio__thread_join(coio__thread_t *t) {
  pthread_join(t->tid, NULL);
  free(t);
}

void coio__cond_init(coio__cond_t *c) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(c, &attr);
  pthread_condattr_destroy(&attr);
}

void coio__cond_destroy(coio__cond_t *c) { pthread_cond_destroy(c); }
void coio__cond_signal(coio__cond_t *c) { pthread_cond_signal(c); }
void coio__cond_broadcast(coio__cond_t *c) { pthread_cond_broadcast(c); }
void coio__cond_wait(coio__cond_t *c, coio__mutex_t *m) { pthread_cond_wait(c, m); }

int coio__cond_wait_until(coio__cond_t *c, coio__mutex_t *m, uint64_t deadline_ns) {
  struct timespec ts;
  if (coio__now_ns() >= deadline_ns)
    return COIO_ETIMEDOUT;
  ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
  ts.tv_nsec = (long)(deadline_ns % 1000000000u);
  if (pthread_cond_timedwait(c, m, &ts) == ETIMEDOUT)
    return COIO_ETIMEDOUT;
  return 0;
}

int coio__atomic_add(coio__atomic_int *a, int delta) { return atomic_fetch_add(a, delta) + delta; }

int coio__atomic_cas(coio__atomic_int *a, int expected, int desired) {
  return atomic_compare_exchange_strong(a, &expected, desired) ? 1 : 0;
}

unsigned coio__cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1u;
}
