/* common/waiters.h - what the synchronization primitives (sync_*.c) share:
 * a FIFO of waiting futures, and the checks of an awaiting call.
 *
 * A waiter is a plain future with list links, one per suspension (asyncio's
 * `fut = loop.create_future(); self._waiters.append(fut); await fut`). Its
 * outcome is the message: a result means "woken, and what you waited for
 * is yours" (the lock, a permit, an item set aside, a notification); an
 * error (COIO_ESHUTDOWN, COIO_EINVALSTATE) means "give up"; cancelled means
 * the task was cancelled before anyone woke it.
 *
 * The cancellation race every primitive must handle: a task can be
 * cancelled after its waiter was given a result but before the task ran.
 * Its coio_await then returns COIO_ECANCELED (task.c delivers the cancel at
 * the resumption) although the waiter holds a grant. coio__waiter_wait
 * reports that case as *granted = 1 with a nonzero status, and the
 * primitive passes the grant on to the next waiter instead of losing it.
 *
 * Waiters are heap objects, never on a task's stack: a loop closed with
 * tasks suspended frees their stacks without unwinding them. */
#ifndef COIO_COMMON_WAITERS_H
#define COIO_COMMON_WAITERS_H

#include "future_internal.h"

typedef struct coio__waitq coio__waitq_t;

typedef struct coio__waiter {
  coio_future_t fut; /* first: a waiter is a future */
  struct coio__waiter *prev, *next;
  coio__waitq_t *q; /* the queue it is linked in; NULL once unlinked */
} coio__waiter_t;

/* A FIFO of waiters. Zero-initialised is empty. Linked waiters include
 * cancelled ones whose task has not run yet (they unlink themselves). */
struct coio__waitq {
  coio__waiter_t *head, *tail;
};

/* Appends a new pending waiter of loop to q. The queue holds a reference
 * while the waiter is linked; *out is the caller's, given back by
 * coio__waiter_wait. 0 or COIO_ENOMEM. */
int coio__waitq_push(coio__waitq_t *q, coio_loop_t *loop, coio__waiter_t **out);

/* Completes the first waiter still pending, with a result if rc is 0 or
 * with error rc, and unlinks it (along with the done waiters before it).
 * 1 if a waiter was woken, 0 if none was pending. */
int coio__waitq_wake_first(coio__waitq_t *q, int rc);

/* Completes every pending waiter as wake_first does; unlinks them all.
 * Returns how many were woken. */
size_t coio__waitq_wake_all(coio__waitq_t *q, int rc);

/* Unlinks every waiter without completing it (the object is being freed
 * after its loop closed). */
void coio__waitq_clear(coio__waitq_t *q);

/* (task) Awaits w, unlinks it and drops the caller's reference. Returns
 * coio_await's status. *granted is 1 if w was completed with a result,
 * whatever the status: with a nonzero status (the task was cancelled just
 * after being woken) the grant must be passed on. */
int coio__waiter_wait(coio__waiter_t *w, int *granted);

/* The checks that open every (task) call on an object of loop: 0, or
 * COIO_ECLOSED (loop closed), COIO_ENOTASK (not in a task), COIO_EINVAL
 * (the task belongs to another loop). */
int coio__sync_enter(coio_loop_t *loop);

/* 1 if loop is closed (COIO_ECLOSED for the non-awaiting calls). */
int coio__sync_closed(const coio_loop_t *loop);

#endif
