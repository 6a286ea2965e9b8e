/* common/sync_lock.c - Lock and Condition (asyncio.Lock, asyncio.Condition).
 *
 * Lock: release hands the lock straight to the first pending waiter (its
 * future gets a result) and the lock stays locked, so nobody can slip in
 * between (asyncio reaches the same fairness by refusing newcomers while a
 * non-cancelled waiter exists). Invariant: unlocked => no pending waiter.
 * A waiter cancelled before the hand-over is skipped (its future is done);
 * one cancelled after it (the race of Lock._wake_up_first: its await
 * returns COIO_ECANCELED although it owns the lock) releases again, which
 * passes the lock on.
 *
 * Condition: wait releases the lock, waits for a notification, and
 * re-acquires the lock even if cancelled (looping over cancelled acquires,
 * as asyncio does). If it leaves with an error after having been notified,
 * it passes the notification to the next waiter (asyncio 3.13,
 * gh-112202), so a notify is never lost to a cancelled task.
 *
 * busy counts the tasks inside a suspending call; free refuses while it is
 * nonzero, since such a task touches the object again when it resumes. */
#include <stdlib.h>

#include "coio/error.h"
#include "coio/sync.h"
#include "waiters.h"

struct coio_lock {
  coio_loop_t *loop;
  int locked;
  coio__waitq_t waiters;
  size_t busy;
  size_t users; /* conditions bound to this lock */
};

struct coio_condition {
  coio_loop_t *loop;
  coio_lock_t *lock;
  int own_lock;
  coio__waitq_t waiters;
  size_t busy;
};

/* ---- Lock ------------------------------------------------------------------ */

int coio_lock_new(coio_loop_t *loop, coio_lock_t **out) {
  coio_lock_t *l;
  if (out)
    *out = NULL;
  if (!loop || !out)
    return COIO_EINVAL;
  if (coio__sync_closed(loop))
    return COIO_ECLOSED;
  if (!(l = calloc(1, sizeof *l)))
    return COIO_ENOMEM;
  l->loop = loop;
  *out = l;
  return 0;
}

int coio_lock_free(coio_lock_t *l) {
  if (!l)
    return 0;
  if (l->busy || l->users)
    return COIO_EBUSY;
  coio__waitq_clear(&l->waiters);
  free(l);
  return 0;
}

/* Unlocks, or hands the lock to the first pending waiter. */
static void lock_pass(coio_lock_t *l) {
  if (!coio__waitq_wake_first(&l->waiters, 0))
    l->locked = 0;
}

int coio_lock_acquire(coio_lock_t *l) {
  coio__waiter_t *w;
  int rc, granted;
  if (!l)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(l->loop)) != 0)
    return rc;
  if (!l->locked) {
    l->locked = 1;
    return 0;
  }
  if ((rc = coio__waitq_push(&l->waiters, l->loop, &w)) != 0)
    return rc;
  l->busy++;
  rc = coio__waiter_wait(w, &granted);
  if (rc != 0 && granted)
    lock_pass(l); /* handed the lock, but cancelled: pass it on */
  l->busy--;
  return rc;
}

int coio_lock_release(coio_lock_t *l) {
  if (!l)
    return COIO_EINVAL;
  if (coio__sync_closed(l->loop))
    return COIO_ECLOSED;
  if (!l->locked)
    return COIO_EINVALSTATE;
  lock_pass(l);
  return 0;
}

int coio_lock_locked(const coio_lock_t *l) { return l ? l->locked : 0; }

/* ---- Condition -------------------------------------------------------------- */

int coio_condition_new(coio_loop_t *loop, coio_lock_t *lock, coio_condition_t **out) {
  coio_condition_t *c;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !out || (lock && lock->loop != loop))
    return COIO_EINVAL;
  if (coio__sync_closed(loop))
    return COIO_ECLOSED;
  if (!(c = calloc(1, sizeof *c)))
    return COIO_ENOMEM;
  c->loop = loop;
  if (lock) {
    c->lock = lock;
  } else {
    if ((rc = coio_lock_new(loop, &c->lock)) != 0) {
      free(c);
      return rc;
    }
    c->own_lock = 1;
  }
  c->lock->users++;
  *out = c;
  return 0;
}

int coio_condition_free(coio_condition_t *c) {
  if (!c)
    return 0;
  if (c->busy || (c->own_lock && c->lock->busy))
    return COIO_EBUSY;
  coio__waitq_clear(&c->waiters);
  c->lock->users--;
  if (c->own_lock)
    coio_lock_free(c->lock);
  free(c);
  return 0;
}

coio_lock_t *coio_condition_lock(const coio_condition_t *c) { return c ? c->lock : NULL; }

int coio_condition_acquire(coio_condition_t *c) {
  return c ? coio_lock_acquire(c->lock) : COIO_EINVAL;
}

int coio_condition_release(coio_condition_t *c) {
  return c ? coio_lock_release(c->lock) : COIO_EINVAL;
}

int coio_condition_locked(const coio_condition_t *c) { return c ? c->lock->locked : 0; }

static void cond_notify(coio_condition_t *c, size_t n) {
  while (n-- > 0 && coio__waitq_wake_first(&c->waiters, 0))
    ;
}

int coio_condition_wait(coio_condition_t *c) {
  coio__waiter_t *w;
  int rc, arc, notified, cancelled;
  if (!c)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(c->loop)) != 0)
    return rc;
  if (!c->lock->locked)
    return COIO_EINVALSTATE;
  /* Allocate before releasing: failing here leaves the lock as it was. */
  if ((rc = coio__waitq_push(&c->waiters, c->loop, &w)) != 0)
    return rc;
  c->busy++;
  lock_pass(c->lock);
  rc = coio__waiter_wait(w, &notified);
  /* Re-acquire, even when cancelled: the caller always gets the lock back
   * (a cancel arriving during the acquire is remembered and reported). */
  cancelled = rc == COIO_ECANCELED;
  while ((arc = coio_lock_acquire(c->lock)) == COIO_ECANCELED)
    cancelled = 1;
  if (arc != 0)
    rc = arc;
  else if (cancelled)
    rc = COIO_ECANCELED;
  if (rc != 0 && notified)
    cond_notify(c, 1); /* the notification we consumed goes to another */
  c->busy--;
  return rc;
}

int coio_condition_wait_for(coio_condition_t *c, coio_condition_pred pred, void *user_data) {
  int rc;
  if (!c || !pred)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(c->loop)) != 0)
    return rc;
  if (!c->lock->locked)
    return COIO_EINVALSTATE;
  while (!pred(user_data))
    if ((rc = coio_condition_wait(c)) != 0)
      return rc;
  return 0;
}

int coio_condition_notify(coio_condition_t *c, size_t n) {
  if (!c)
    return COIO_EINVAL;
  if (coio__sync_closed(c->loop))
    return COIO_ECLOSED;
  if (!c->lock->locked)
    return COIO_EINVALSTATE;
  cond_notify(c, n);
  return 0;
}

int coio_condition_notify_all(coio_condition_t *c) {
  if (!c)
    return COIO_EINVAL;
  if (coio__sync_closed(c->loop))
    return COIO_ECLOSED;
  if (!c->lock->locked)
    return COIO_EINVALSTATE;
  coio__waitq_wake_all(&c->waiters, 0);
  return 0;
}
