/* coio/sync.h - synchronization primitives for the tasks of one loop:
 * asyncio's Lock, Event, Condition, Semaphore, BoundedSemaphore, Queue
 * (FIFO, LIFO, priority) and Barrier.
 *
 * Rules shared by every object here:
 *
 * - An object belongs to the loop it was made for and is used from that
 *   loop's thread only (these are not thread locks). coio_X_new(loop, ...,
 *   &out) gives the caller the object: COIO_EINVAL for a NULL argument,
 *   COIO_ECLOSED on a closed loop, COIO_ENOMEM.
 * - coio_X_free releases it: 0, or COIO_EBUSY while a task is suspended in
 *   (or woken from and not yet back out of) a call on it; nothing is freed
 *   then. Freeing never touches the loop, so it also works after coio_run
 *   or coio_loop_free; the one exception is a loop closed while tasks were
 *   still suspended on the object: those tasks were dropped without
 *   unwinding and the object stays busy for good. NULL is a no-op (0).
 * - Calls marked (task) may suspend the calling task. They return
 *   COIO_ENOTASK outside a task, COIO_EINVAL for a NULL object or when the
 *   calling task belongs to another loop, COIO_ECLOSED once the loop is
 *   closed, COIO_ENOMEM, and COIO_ECANCELED when the task is cancelled while
 *   suspended: the operation then did not happen (the lock is not held, the
 *   permit not taken, the item neither taken nor put).
 * - Waiters are served first come, first served, and a newcomer never
 *   overtakes a task that is waiting or was woken and has not run yet.
 * - Cancellation never loses a wake-up: a lock, permit, queue item, queue
 *   slot or notification given to a task that is cancelled in the same
 *   moment is passed to the next waiter.
 * - Other calls after the loop closed return COIO_ECLOSED; queries keep
 *   answering. Queries on NULL return 0.
 *
 * Errors follow asyncio's exceptions: RuntimeError (release an unlocked
 * lock, wait or notify without the lock) is COIO_EINVALSTATE; ValueError
 * (too many releases of a bounded semaphore, too many task_done) is
 * COIO_ERANGE; QueueFull/QueueEmpty are COIO_EAGAIN; QueueShutDown is
 * COIO_ESHUTDOWN; BrokenBarrierError is COIO_EINVALSTATE. */
#ifndef COIO_SYNC_H
#define COIO_SYNC_H

#include "loop.h"

COIO_BEGIN_DECLS

/* ---- Lock ----------------------------------------------------------------
 * A mutual-exclusion lock (asyncio.Lock). Not owned by a task: any task (or
 * callback) may release it. Releasing with waiters hands the lock directly
 * to the first one, so it stays locked through the hand-over. */
typedef struct coio_lock coio_lock_t;

/* A new unlocked lock of loop. */
COIO_API int coio_lock_new(coio_loop_t *loop, coio_lock_t **out);
/* 0, COIO_EBUSY (tasks waiting or in acquire, or a condition still uses
 * the lock). Freeing a locked lock without waiters is allowed. */
COIO_API int coio_lock_free(coio_lock_t *lock);
/* (task) Waits until the lock is free and takes it: 0, or see the rules. */
COIO_API int coio_lock_acquire(coio_lock_t *lock);
/* Releases the lock, waking the first waiter. COIO_EINVALSTATE if it is
 * not locked. */
COIO_API int coio_lock_release(coio_lock_t *lock);
/* 1 if locked. */
COIO_API int coio_lock_locked(const coio_lock_t *lock);

/* ---- Event ---------------------------------------------------------------
 * A flag tasks can wait for (asyncio.Event). */
typedef struct coio_event coio_event_t;

/* A new event of loop, not set. */
COIO_API int coio_event_new(coio_loop_t *loop, coio_event_t **out);
/* 0 or COIO_EBUSY (tasks waiting). */
COIO_API int coio_event_free(coio_event_t *ev);
/* Sets the flag and wakes every waiter (no-op if already set). */
COIO_API int coio_event_set(coio_event_t *ev);
/* Clears the flag. Tasks already woken still return 0 from wait. */
COIO_API int coio_event_clear(coio_event_t *ev);
/* 1 if set. */
COIO_API int coio_event_is_set(const coio_event_t *ev);
/* (task) Returns 0 at once if set, else waits until set. */
COIO_API int coio_event_wait(coio_event_t *ev);

/* ---- Condition -------------------------------------------------------------
 * A condition variable bound to a lock (asyncio.Condition). wait, notify
 * and notify_all require the lock to be held (COIO_EINVALSTATE otherwise);
 * as in asyncio, "held" means locked, whoever locked it. */
typedef struct coio_condition coio_condition_t;
/* A predicate for coio_condition_wait_for: nonzero means true. */
typedef int (*coio_condition_pred)(void *user_data);

/* A new condition of loop using lock (not owned: it must be of the same
 * loop, else COIO_EINVAL, and outlive the condition; coio_lock_free fails
 * with COIO_EBUSY while a condition uses it), or a lock of its own if lock
 * is NULL. Several conditions may share one lock. */
COIO_API int coio_condition_new(coio_loop_t *loop, coio_lock_t *lock, coio_condition_t **out);
/* 0 or COIO_EBUSY (tasks waiting on it or on its own lock). Frees the lock
 * only if the condition made it. */
COIO_API int coio_condition_free(coio_condition_t *cond);
/* The condition's lock (owned by the condition if it made it). */
COIO_API coio_lock_t *coio_condition_lock(const coio_condition_t *cond);
/* (task) coio_lock_acquire on the condition's lock. */
COIO_API int coio_condition_acquire(coio_condition_t *cond);
/* coio_lock_release on the condition's lock. */
COIO_API int coio_condition_release(coio_condition_t *cond);
/* 1 if the condition's lock is locked. */
COIO_API int coio_condition_locked(const coio_condition_t *cond);
/* (task) Releases the lock, waits for a notification, re-acquires the
 * lock and returns 0. The lock is re-acquired even when the task is
 * cancelled, and only then is COIO_ECANCELED returned (a notification it
 * had received is passed to another waiter). Only if re-acquiring fails
 * for another reason (COIO_ENOMEM) is the lock not held on return.
 * COIO_EINVALSTATE if the lock is not held. */
COIO_API int coio_condition_wait(coio_condition_t *cond);
/* (task) Waits until pred(user_data) is true (checked first, then after
 * each wake-up, with the lock held): 0 once true, else wait's error.
 * COIO_EINVAL if pred is NULL. */
COIO_API int coio_condition_wait_for(coio_condition_t *cond, coio_condition_pred pred,
                                     void *user_data);
/* Wakes up to n waiting tasks (first come, first served). The lock must be
 * held (COIO_EINVALSTATE). */
COIO_API int coio_condition_notify(coio_condition_t *cond, size_t n);
/* Wakes every waiting task. The lock must be held (COIO_EINVALSTATE). */
COIO_API int coio_condition_notify_all(coio_condition_t *cond);

/* ---- Semaphore and BoundedSemaphore ---------------------------------------
 * A counter of permits (asyncio.Semaphore). A release with waiters hands
 * the permit directly to the first of them. */
typedef struct coio_semaphore coio_semaphore_t;

/* A semaphore of loop with value permits (0 allowed). */
COIO_API int coio_semaphore_new(coio_loop_t *loop, size_t value, coio_semaphore_t **out);
/* A bounded semaphore (asyncio.BoundedSemaphore): releasing it above its
 * initial value fails with COIO_ERANGE. */
COIO_API int coio_bounded_semaphore_new(coio_loop_t *loop, size_t value, coio_semaphore_t **out);
/* 0 or COIO_EBUSY (tasks waiting). */
COIO_API int coio_semaphore_free(coio_semaphore_t *sem);
/* (task) Takes a permit, waiting while there is none: 0, or see the rules. */
COIO_API int coio_semaphore_acquire(coio_semaphore_t *sem);
/* Returns a permit (to the first waiter if any). COIO_ERANGE for a bounded
 * semaphore already at its initial value, or a value at SIZE_MAX. */
COIO_API int coio_semaphore_release(coio_semaphore_t *sem);
/* 1 if acquire would wait (no permit left). */
COIO_API int coio_semaphore_locked(const coio_semaphore_t *sem);
/* The permits available now. */
COIO_API size_t coio_semaphore_value(const coio_semaphore_t *sem);

/* ---- Queue -----------------------------------------------------------------
 * A queue of void * items (asyncio.Queue, LifoQueue, PriorityQueue) with
 * task_done/join and Python 3.13's shutdown. Items are not owned unless
 * item_dtor is set: then the queue owns the items it holds, calls item_dtor
 * on the ones it drops (shutdown immediate, free), and a successful get
 * gives ownership to the caller. A put that fails leaves the item with the
 * caller.
 *
 * Fairness: getters are served in order, and an item set aside for a getter
 * that was woken but has not run yet is not given to anyone else (likewise
 * a free slot for a woken putter). So get_nowait can fail while qsize() > 0,
 * and put_nowait while full() is 0, for the instant until those tasks run. */
typedef struct coio_queue coio_queue_t;

typedef enum coio_queue_kind {
  COIO_QUEUE_FIFO = 0,    /* first in, first out (asyncio.Queue) */
  COIO_QUEUE_LIFO = 1,    /* last in, first out (asyncio.LifoQueue) */
  COIO_QUEUE_PRIORITY = 2 /* smallest first (asyncio.PriorityQueue) */
} coio_queue_kind_t;

/* For priority queues: < 0 if a comes before b, 0 if equal, > 0 after.
 * Must not call into the queue. */
typedef int (*coio_queue_compare_fn)(const void *a, const void *b, void *user_data);

/* Options for coio_queue_new. Zero-initialise, then set what you need. */
typedef struct coio_queue_options {
  coio_queue_kind_t kind;
  size_t maxsize; /* 0: unbounded */
  /* PRIORITY only. Items come out by the integer priority given with
   * coio_queue_put_priority (smallest first; plain put means 0), then by
   * compare if set, then in arrival order (stable). */
  coio_queue_compare_fn compare;
  void *compare_data;
  /* Frees an item the queue drops; NULL: items are not owned. Must not
   * call into the queue. */
  void (*item_dtor)(void *item);
} coio_queue_options_t;

/* A new queue of loop; opts may be NULL (unbounded FIFO). COIO_EINVAL for
 * an unknown kind, or a compare function on a FIFO or LIFO queue. */
COIO_API int coio_queue_new(coio_loop_t *loop, const coio_queue_options_t *opts,
                            coio_queue_t **out);
/* 0 or COIO_EBUSY (tasks waiting in put, get or join). Items left are
 * passed to item_dtor if there is one. */
COIO_API int coio_queue_free(coio_queue_t *q);
/* (task) Puts item, waiting while the queue is full. COIO_ESHUTDOWN if the
 * queue is or gets shut down. */
COIO_API int coio_queue_put(coio_queue_t *q, void *item);
/* (task) put with a priority (priority queues only, else COIO_EINVAL). */
COIO_API int coio_queue_put_priority(coio_queue_t *q, void *item, int64_t priority);
/* Puts item without waiting: COIO_EAGAIN if there is no free slot,
 * COIO_ESHUTDOWN after shutdown. */
COIO_API int coio_queue_put_nowait(coio_queue_t *q, void *item);
/* put_nowait with a priority (priority queues only, else COIO_EINVAL). */
COIO_API int coio_queue_put_nowait_priority(coio_queue_t *q, void *item, int64_t priority);
/* (task) Takes the next item into *item (NULL on error), waiting while the
 * queue is empty. COIO_ESHUTDOWN once the queue is shut down and has
 * nothing left for this getter. */
COIO_API int coio_queue_get(coio_queue_t *q, void **item);
/* Takes the next item without waiting: COIO_EAGAIN if none is available,
 * COIO_ESHUTDOWN if none is available and the queue is shut down. */
COIO_API int coio_queue_get_nowait(coio_queue_t *q, void **item);
/* The number of items in the queue. */
COIO_API size_t coio_queue_qsize(const coio_queue_t *q);
/* The maximum size (0: unbounded). */
COIO_API size_t coio_queue_maxsize(const coio_queue_t *q);
/* 1 if qsize() is 0. */
COIO_API int coio_queue_empty(const coio_queue_t *q);
/* 1 if the queue is bounded and qsize() >= maxsize. */
COIO_API int coio_queue_full(const coio_queue_t *q);
/* Marks one item taken by get as processed. COIO_ERANGE if called more
 * times than items were put. */
COIO_API int coio_queue_task_done(coio_queue_t *q);
/* (task) Waits until every item put has been marked done (returns at once
 * if none is pending). */
COIO_API int coio_queue_join(coio_queue_t *q);
/* Shuts the queue down (Python 3.13): put fails from now on with
 * COIO_ESHUTDOWN and so do the putters waiting; get keeps taking the items
 * left, then fails with COIO_ESHUTDOWN, as do the getters waiting. With
 * immediate, the items left are dropped at once (item_dtor called on each,
 * and each counts as done for join). May be called again. */
COIO_API int coio_queue_shutdown(coio_queue_t *q, int immediate);
/* 1 once shutdown was called. */
COIO_API int coio_queue_is_shutdown(const coio_queue_t *q);

/* ---- Barrier ---------------------------------------------------------------
 * A meeting point for parties tasks (asyncio.Barrier): each wait suspends
 * until parties tasks are waiting, then all of them go on; the barrier is
 * then reused. Tasks arriving while the previous round is still leaving
 * wait for it to finish. */
typedef struct coio_barrier coio_barrier_t;

/* A new barrier of loop for parties (>= 1, else COIO_EINVAL) tasks. */
COIO_API int coio_barrier_new(coio_loop_t *loop, size_t parties, coio_barrier_t **out);
/* 0 or COIO_EBUSY (tasks waiting). */
COIO_API int coio_barrier_free(coio_barrier_t *b);
/* (task) Waits for the round to fill, then returns 0 with *index (may be
 * NULL) set to this task's arrival order in the round, 0 to parties - 1.
 * COIO_EINVALSTATE if the barrier is broken or gets aborted or reset while
 * this task waits (a task already released keeps its 0). A task cancelled
 * while waiting leaves the round (n_waiting drops). */
COIO_API int coio_barrier_wait(coio_barrier_t *b, size_t *index);
/* Returns the barrier to its initial state: waiting tasks fail with
 * COIO_EINVALSTATE; a broken barrier is usable again. */
COIO_API int coio_barrier_reset(coio_barrier_t *b);
/* Breaks the barrier: waiting and future waits fail with COIO_EINVALSTATE
 * until coio_barrier_reset. */
COIO_API int coio_barrier_abort(coio_barrier_t *b);
COIO_API size_t coio_barrier_parties(const coio_barrier_t *b);
/* Tasks waiting in the round being filled. */
COIO_API size_t coio_barrier_n_waiting(const coio_barrier_t *b);
/* 1 if broken (aborted and not reset). */
COIO_API int coio_barrier_broken(const coio_barrier_t *b);

COIO_END_DECLS

#endif /* COIO_SYNC_H */
