/* common/wait.c - coio_wait (asyncio.wait) and coio_as_completed.
 *
 * Lifetime: a done callback may already sit in a scheduled "fire" record
 * when its registration is removed (future.c snapshots callbacks at
 * completion), so callback state can never live on the task's stack. Each
 * waiter is an internal future subclass whose reference count is shared by
 * its owner, every callback registration and its timer; the last one frees
 * it. */
#include <math.h>
#include <stdlib.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"

/* 0 if timeout is COIO_NO_TIMEOUT or finite and >= 0. */
int coio__check_timeout(double timeout);
int coio__check_timeout(double timeout) {
  if (isinf(timeout) && timeout > 0)
    return 0;
  return timeout >= 0 && !isinf(timeout) ? 0 : COIO_EINVAL; /* also NaN */
}

/* ---- wait ----------------------------------------------------------------- */

typedef struct waiter {
  coio_future_t fut; /* first; done when the wait is over */
  coio_wait_mode_t mode;
  size_t n, ndone;
  coio_handle_t timer;
} waiter_t;

static const coio__future_ops_t waiter_ops = {NULL, NULL};

static int satisfied(waiter_t *w, coio_future_t *just_done) {
  if (w->ndone == w->n || w->mode == COIO_WAIT_FIRST_COMPLETED)
    return 1;
  return w->mode == COIO_WAIT_FIRST_EXCEPTION && just_done &&
         coio_future_result(just_done, NULL) != 0;
}

static void wait_on_done(coio_future_t *child, void *arg) {
  waiter_t *w = arg;
  w->ndone++;
  if (!coio_future_done(&w->fut) && satisfied(w, child))
    coio_future_set_result(&w->fut, NULL, NULL);
  coio_future_unref(&w->fut);
}

static void wait_on_timeout(coio_loop_t *loop, void *arg) {
  waiter_t *w = arg;
  (void)loop;
  if (!coio_future_done(&w->fut))
    coio_future_set_result(&w->fut, NULL, NULL);
  coio_future_unref(&w->fut);
}

static void unref_waiter(void *arg) { coio_future_unref(arg); }

static int check_futures(coio_loop_t *loop, coio_future_t *const *futs, size_t n) {
  size_t i;
  if (!futs || n == 0)
    return COIO_EINVAL;
  for (i = 0; i < n; i++)
    if (!futs[i] || coio_future_loop(futs[i]) != loop)
      return COIO_EINVAL;
  return 0;
}

int coio_wait(coio_future_t *const *futs, size_t n, coio_wait_mode_t mode, double timeout) {
  coio__task_t *t = coio__task_current();
  coio_loop_t *loop;
  waiter_t *w;
  size_t i, done = 0;
  int rc = 0;
  if (!t)
    return COIO_ENOTASK;
  loop = t->fut.loop;
  if ((rc = check_futures(loop, futs, n)) != 0 || (rc = coio__check_timeout(timeout)) != 0)
    return rc;
  if (mode != COIO_WAIT_ALL_COMPLETED && mode != COIO_WAIT_FIRST_COMPLETED &&
      mode != COIO_WAIT_FIRST_EXCEPTION)
    return COIO_EINVAL;
  if (!(w = calloc(1, sizeof *w)))
    return COIO_ENOMEM;
  coio__future_init(&w->fut, loop, &waiter_ops);
  w->mode = mode;
  w->n = n;
  for (i = 0; i < n; i++) {
    if (coio_future_done(futs[i])) {
      w->ndone++;
      if (satisfied(w, futs[i]))
        coio_future_set_result(&w->fut, NULL, NULL);
    }
  }
  for (i = 0; i < n && !coio_future_done(&w->fut) && rc == 0; i++) {
    if (coio_future_done(futs[i]))
      continue;
    coio_future_ref(&w->fut);
    if ((rc = coio_future_add_done_callback(futs[i], wait_on_done, w)) != 0)
      coio_future_unref(&w->fut);
  }
  if (rc == 0 && !coio_future_done(&w->fut) && !isinf(timeout)) {
    coio_future_ref(&w->fut);
    rc = coio__cb_schedule_at(loop, coio__now_ns() + coio__seconds_to_ns(timeout), wait_on_timeout,
                              w, unref_waiter, &w->timer);
    if (rc != 0)
      coio_future_unref(&w->fut);
  }
  if (rc == 0)
    rc = coio_await(&w->fut);
  coio_handle_cancel(loop, w->timer); /* its drop hook releases its reference */
  for (i = 0; i < n; i++) {
    int removed = coio_future_remove_done_callback(futs[i], wait_on_done, w);
    while (removed-- > 0)
      coio_future_unref(&w->fut);
    done += coio_future_done(futs[i]) ? 1 : 0;
  }
  coio_future_unref(&w->fut);
  return rc == 0 ? (int)done : rc;
}

/* ---- as_completed ------------------------------------------------------------- */

struct coio_as_completed {
  coio_future_t fut; /* first: carries the reference count only */
  coio_future_t **futs;
  size_t n;
  coio_future_t **queue; /* done, not yet returned: a FIFO of at most n */
  size_t qhead, qlen, returned;
  coio_future_t *wake; /* what next() awaits, or NULL */
  coio_handle_t timer;
  int timed_out;
};

static void ac_finalize(coio_future_t *fut) {
  coio_as_completed_t *it = (coio_as_completed_t *)fut;
  size_t i;
  for (i = 0; i < it->n; i++)
    coio_future_unref(it->futs[i]);
  free(it->futs);
  free(it->queue);
}

static const coio__future_ops_t ac_ops = {NULL, ac_finalize};

static void ac_wake(coio_as_completed_t *it) {
  if (it->wake && !coio_future_done(it->wake))
    coio_future_set_result(it->wake, NULL, NULL);
}

static void ac_on_done(coio_future_t *child, void *arg) {
  coio_as_completed_t *it = arg;
  it->queue[(it->qhead + it->qlen++) % it->n] = child;
  ac_wake(it);
  coio_future_unref(&it->fut);
}

static void ac_on_timeout(coio_loop_t *loop, void *arg) {
  coio_as_completed_t *it = arg;
  (void)loop;
  it->timed_out = 1;
  ac_wake(it);
  coio_future_unref(&it->fut);
}

int coio_as_completed_new(coio_loop_t *loop, coio_future_t *const *futs, size_t n, double timeout,
                          coio_as_completed_t **out) {
  coio_as_completed_t *it;
  size_t i;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if ((n && (rc = check_futures(loop, futs, n)) != 0) || (rc = coio__check_timeout(timeout)) != 0)
    return rc;
  it = calloc(1, sizeof *it);
  if (!it || (n && (!(it->futs = calloc(n, sizeof *it->futs)) ||
                    !(it->queue = calloc(n, sizeof *it->queue))))) {
    if (it) {
      free(it->futs);
      free(it);
    }
    return COIO_ENOMEM;
  }
  coio__future_init(&it->fut, loop, &ac_ops);
  for (i = 0; i < n; i++) {
    it->futs[it->n++] = coio_future_ref(futs[i]);
    coio_future_ref(&it->fut);
    if ((rc = coio_future_add_done_callback(futs[i], ac_on_done, it)) != 0) {
      coio_future_unref(&it->fut);
      coio_as_completed_free(it);
      return rc;
    }
  }
  if (n && !isinf(timeout)) {
    coio_future_ref(&it->fut);
    rc = coio__cb_schedule_at(loop, coio__now_ns() + coio__seconds_to_ns(timeout), ac_on_timeout,
                              it, unref_waiter, &it->timer);
    if (rc != 0) {
      coio_future_unref(&it->fut);
      coio_as_completed_free(it);
      return rc;
    }
  }
  *out = it;
  return 0;
}

int coio_as_completed_next(coio_as_completed_t *it, coio_future_t **fut) {
  coio__task_t *t = coio__task_current();
  int rc;
  if (!it || !fut)
    return COIO_EINVAL;
  *fut = NULL;
  if (!t)
    return COIO_ENOTASK;
  if (t->fut.loop != it->fut.loop)
    return COIO_EINVAL;
  for (;;) {
    if (it->returned == it->n)
      return 0;
    if (it->qlen > 0) {
      *fut = it->queue[it->qhead];
      it->qhead = (it->qhead + 1) % it->n;
      it->qlen--;
      it->returned++;
      return 1;
    }
    if (it->timed_out)
      return COIO_ETIMEDOUT;
    if (it->wake)
      return COIO_EBUSY; /* another task is already waiting on it */
    if ((rc = coio_future_new(it->fut.loop, &it->wake)) != 0)
      return rc;
    rc = coio_await(it->wake);
    coio_future_unref(it->wake);
    it->wake = NULL;
    if (rc != 0)
      return rc;
  }
}

void coio_as_completed_free(coio_as_completed_t *it) {
  size_t i;
  if (!it)
    return;
  coio_handle_cancel(it->fut.loop, it->timer);
  for (i = 0; i < it->n; i++) {
    int removed = coio_future_remove_done_callback(it->futs[i], ac_on_done, it);
    while (removed-- > 0)
      coio_future_unref(&it->fut);
  }
  coio_future_unref(&it->fut);
}
