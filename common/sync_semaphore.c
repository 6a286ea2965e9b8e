/* common/sync_semaphore.c - Semaphore and BoundedSemaphore (asyncio).
 *
 * release hands the permit straight to the first pending waiter (asyncio's
 * _wake_up_next also takes it off _value at that moment), else adds it to
 * value. Invariant: value > 0 => no pending waiter, so acquire's fast path
 * never overtakes a waiter. A waiter cancelled after being handed a permit
 * (its await returns COIO_ECANCELED with the grant in its future) gives it
 * back with the same hand-over, to the next waiter or to value: the permit
 * is never lost. */
#include <stdint.h>
#include <stdlib.h>

#include "coio/error.h"
#include "coio/sync.h"
#include "waiters.h"

struct coio_semaphore {
  coio_loop_t *loop;
  size_t value;
  size_t bound; /* the initial value of a bounded semaphore */
  int bounded;
  coio__waitq_t waiters;
  size_t busy;
};

static int sem_new(coio_loop_t *loop, size_t value, int bounded, coio_semaphore_t **out) {
  coio_semaphore_t *s;
  if (out)
    *out = NULL;
  if (!loop || !out)
    return COIO_EINVAL;
  if (coio__sync_closed(loop))
    return COIO_ECLOSED;
  if (!(s = calloc(1, sizeof *s)))
    return COIO_ENOMEM;
  s->loop = loop;
  s->value = s->bound = value;
  s->bounded = bounded;
  *out = s;
  return 0;
}

int coio_semaphore_new(coio_loop_t *loop, size_t value, coio_semaphore_t **out) {
  return sem_new(loop, value, 0, out);
}

int coio_bounded_semaphore_new(coio_loop_t *loop, size_t value, coio_semaphore_t **out) {
  return sem_new(loop, value, 1, out);
}

int coio_semaphore_free(coio_semaphore_t *s) {
  if (!s)
    return 0;
  if (s->busy)
    return COIO_EBUSY;
  coio__waitq_clear(&s->waiters);
  free(s);
  return 0;
}

/* Gives one permit to the first pending waiter, or to value. */
static void sem_pass(coio_semaphore_t *s) {
  if (!coio__waitq_wake_first(&s->waiters, 0))
    s->value++;
}

int coio_semaphore_acquire(coio_semaphore_t *s) {
  coio__waiter_t *w;
  int rc, granted;
  if (!s)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(s->loop)) != 0)
    return rc;
  if (s->value > 0) {
    s->value--;
    return 0;
  }
  if ((rc = coio__waitq_push(&s->waiters, s->loop, &w)) != 0)
    return rc;
  s->busy++;
  rc = coio__waiter_wait(w, &granted);
  if (rc != 0 && granted)
    sem_pass(s); /* handed a permit, but cancelled: give it on */
  s->busy--;
  return rc;
}

int coio_semaphore_release(coio_semaphore_t *s) {
  if (!s)
    return COIO_EINVAL;
  if (coio__sync_closed(s->loop))
    return COIO_ECLOSED;
  if ((s->bounded && s->value >= s->bound) || s->value == SIZE_MAX)
    return COIO_ERANGE;
  sem_pass(s);
  return 0;
}

int coio_semaphore_locked(const coio_semaphore_t *s) { return s ? s->value == 0 : 0; }

size_t coio_semaphore_value(const coio_semaphore_t *s) { return s ? s->value : 0; }
