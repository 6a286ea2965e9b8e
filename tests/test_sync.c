/* tests/test_sync.c - the synchronization primitives: Lock, Event,
 * Condition, Semaphore/BoundedSemaphore, Queue (FIFO, LIFO, priority,
 * task_done/join, shutdown) and Barrier. For each: FIFO fairness, and the
 * cancellation races (a waiter cancelled in the same iteration it is woken,
 * or just before): no wake-up lost, no slot leaked. Then bad input. Runs
 * once per backend.
 *
 * Steps are ordered with coio_sleep(0) yields, never with timed sleeps:
 * a task spawned now runs its first step in the next iteration, before the
 * spawner's own sleep(0) returns; a waiter woken now runs in the next
 * iteration too. The checks made inside tasks record the first failure
 * (CMocka's asserts must not jump off a task's stack) and the test fails
 * with it once the loop has returned.
 *
 * Longer than the usual file: each race is spelled out step by step, and
 * the brief asks for one suite, registered as coio_loop_test(sync). */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* ---- running a test's main task ---------------------------------------------- */

/* The loop of the running test, and its main task (harness.h). */
#define L test_task_loop
#define spawn test_spawn

static void run_main(coio_task_fn fn, void *arg) { test_run_main(fn, arg, 20); }

/* (task) Awaits t, drops it, and returns its status. */
static int join(coio_task_t *t) {
  int rc = coio_await(t);
  coio_future_unref(t);
  return rc;
}

static int yield(int n) {
  int rc;
  while (n-- > 0)
    if ((rc = coio_sleep(0)) != 0)
      return rc;
  return 0;
}

/* The order in which things happened. */
typedef struct rec {
  int v[32];
  int n;
} rec_t;

static void rec_add(rec_t *r, int v) {
  if (r->n < 32)
    r->v[r->n++] = v;
}

static int rec_is(const rec_t *r, const int *want, int n) {
  int i;
  if (r->n != n)
    return 0;
  for (i = 0; i < n; i++)
    if (r->v[i] != want[i])
      return 0;
  return 1;
}
#define REC_IS(r, ...)                                                                             \
  rec_is((r), (const int[]){__VA_ARGS__}, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)))

/* A worker's arguments and outcome. */
typedef struct worker {
  int id;
  rec_t *rec;
  void *obj;
  void *item;   /* queue: what to put, or what was got */
  int rc;       /* the status of its main call */
  int done;     /* its main call has returned */
  int held;     /* condition: the lock was held when wait returned */
  size_t index; /* barrier */
  int rounds;   /* barrier: how many waits */
} worker_t;

static void workers_init(worker_t *w, int n, rec_t *rec, void *obj) {
  int i;
  memset(w, 0, (size_t)n * sizeof *w);
  for (i = 0; i < n; i++) {
    w[i].id = i;
    w[i].rec = rec;
    w[i].obj = obj;
    w[i].rc = 12345;
  }
}

/* ---- Lock ---------------------------------------------------------------------- */

/* acquire, record, yield once while holding it, release. */
static int lock_worker(void *arg, void **result) {
  worker_t *w = arg;
  (void)result;
  w->rc = coio_lock_acquire(w->obj);
  w->done = 1;
  if (w->rc != 0)
    return w->rc;
  rec_add(w->rec, w->id);
  CHECK_EQ(coio_lock_locked(w->obj), 1);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_lock_release(w->obj), 0);
  return 0;
}

static int lock_basics_main(void *arg, void **result) {
  coio_lock_t *l;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_lock_new(L, &l), 0);
  CHECK_EQ(coio_lock_locked(l), 0);
  CHECK_EQ(coio_lock_release(l), COIO_EINVALSTATE);
  CHECK_EQ(coio_lock_acquire(l), 0);
  CHECK_EQ(coio_lock_locked(l), 1);
  CHECK_EQ(coio_lock_release(l), 0);
  CHECK_EQ(coio_lock_locked(l), 0);
  CHECK_EQ(coio_lock_release(l), COIO_EINVALSTATE);
  CHECK_EQ(coio_lock_free(l), 0);
  /* a locked lock without waiters may be freed */
  CHECK_EQ(coio_lock_new(L, &l), 0);
  CHECK_EQ(coio_lock_acquire(l), 0);
  CHECK_EQ(coio_lock_free(l), 0);
  return 0;
}

static void lock_basics(void **state) {
  (void)state;
  run_main(lock_basics_main, NULL);
}

static int lock_fifo_main(void *arg, void **result) {
  coio_lock_t *l;
  worker_t w[4];
  coio_task_t *t[4];
  rec_t rec = {{0}, 0};
  int i;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_lock_new(L, &l), 0);
  CHECK_EQ(coio_lock_acquire(l), 0);
  workers_init(w, 4, &rec, l);
  for (i = 0; i < 4; i++)
    CHECK((t[i] = spawn(lock_worker, &w[i])) != NULL);
  CHECK_EQ(yield(1), 0); /* all four wait now */
  CHECK_EQ(coio_lock_free(l), COIO_EBUSY);
  /* Released with waiters: handed to the first, still locked; a newcomer
   * (this task) queues behind the four instead of taking it. */
  CHECK_EQ(coio_lock_release(l), 0);
  CHECK_EQ(coio_lock_locked(l), 1);
  CHECK_EQ(coio_lock_acquire(l), 0);
  rec_add(&rec, 99);
  CHECK(REC_IS(&rec, 0, 1, 2, 3, 99));
  CHECK_EQ(coio_lock_release(l), 0);
  for (i = 0; i < 4; i++)
    CHECK_EQ(join(t[i]), 0);
  CHECK_EQ(coio_lock_locked(l), 0);
  CHECK_EQ(coio_lock_free(l), 0);
  return 0;
}

static void lock_is_fifo_without_barging(void **state) {
  (void)state;
  run_main(lock_fifo_main, NULL);
}

/* Two waiters; the first is cancelled in the same step as the release,
 * after it (the lock was already handed to it: Lock._wake_up_first's race)
 * or before it. Either way the second gets the lock and it is not lost. */
static int lock_cancel_race_main(void *arg, void **result) {
  int cancel_first = *(int *)arg;
  coio_lock_t *l;
  worker_t w[3];
  coio_task_t *t[3];
  rec_t rec = {{0}, 0};
  (void)result;
  CHECK_EQ(coio_lock_new(L, &l), 0);
  CHECK_EQ(coio_lock_acquire(l), 0);
  workers_init(w, 3, &rec, l);
  CHECK((t[0] = spawn(lock_worker, &w[0])) != NULL);
  CHECK((t[1] = spawn(lock_worker, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  if (cancel_first) {
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
    CHECK_EQ(coio_lock_release(l), 0);
  } else {
    CHECK_EQ(coio_lock_release(l), 0);
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  }
  CHECK_EQ(coio_lock_locked(l), 1); /* handed to a waiter */
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK_EQ(w[0].rc, COIO_ECANCELED);
  CHECK_EQ(join(t[1]), 0);
  CHECK(REC_IS(&rec, 1));
  CHECK_EQ(coio_lock_locked(l), 0);
  /* and it still works */
  CHECK((t[2] = spawn(lock_worker, &w[2])) != NULL);
  CHECK_EQ(join(t[2]), 0);
  CHECK(REC_IS(&rec, 1, 2));
  CHECK_EQ(coio_lock_free(l), 0);
  return 0;
}

static void lock_cancelled_after_handover_passes_it_on(void **state) {
  int cancel_first = 0;
  (void)state;
  run_main(lock_cancel_race_main, &cancel_first);
}

static void lock_cancelled_before_release_is_skipped(void **state) {
  int cancel_first = 1;
  (void)state;
  run_main(lock_cancel_race_main, &cancel_first);
}

/* A cancelled waiter leaves the line; the lock stays with its holder. */
static int lock_cancel_waiting_main(void *arg, void **result) {
  coio_lock_t *l;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  (void)arg;
  (void)result;
  CHECK_EQ(coio_lock_new(L, &l), 0);
  CHECK_EQ(coio_lock_acquire(l), 0);
  workers_init(w, 2, &rec, l);
  CHECK((t[0] = spawn(lock_worker, &w[0])) != NULL);
  CHECK((t[1] = spawn(lock_worker, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK_EQ(coio_lock_locked(l), 1);
  CHECK_EQ(w[1].done, 0);
  CHECK_EQ(coio_lock_release(l), 0);
  CHECK_EQ(join(t[1]), 0);
  CHECK(REC_IS(&rec, 1));
  CHECK_EQ(coio_lock_free(l), 0);
  return 0;
}

static void lock_cancelled_waiter_leaves_the_line(void **state) {
  (void)state;
  run_main(lock_cancel_waiting_main, NULL);
}

/* ---- Event --------------------------------------------------------------------- */

static int event_worker(void *arg, void **result) {
  worker_t *w = arg;
  (void)result;
  w->rc = coio_event_wait(w->obj);
  w->done = 1;
  if (w->rc == 0)
    rec_add(w->rec, w->id);
  return w->rc;
}

static int event_main(void *arg, void **result) {
  coio_event_t *ev;
  worker_t w[5];
  coio_task_t *t[5];
  rec_t rec = {{0}, 0};
  int i;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_event_new(L, &ev), 0);
  CHECK_EQ(coio_event_is_set(ev), 0);
  workers_init(w, 5, &rec, ev);
  for (i = 0; i < 3; i++)
    CHECK((t[i] = spawn(event_worker, &w[i])) != NULL);
  CHECK_EQ(yield(2), 0);
  CHECK_EQ(rec.n, 0);
  CHECK_EQ(coio_event_free(ev), COIO_EBUSY);
  CHECK_EQ(coio_event_set(ev), 0);
  CHECK_EQ(coio_event_set(ev), 0); /* again: no-op */
  CHECK_EQ(coio_event_is_set(ev), 1);
  /* Cleared before the woken tasks run: they were woken, they return 0. */
  CHECK_EQ(coio_event_clear(ev), 0);
  for (i = 0; i < 3; i++)
    CHECK_EQ(join(t[i]), 0);
  CHECK(REC_IS(&rec, 0, 1, 2));
  /* A set event does not suspend. */
  CHECK_EQ(coio_event_set(ev), 0);
  CHECK_EQ(coio_event_wait(ev), 0);
  /* Cleared: waits again; a cancelled waiter reports the cancel, even if
   * the event was set in the same step (asyncio does the same). */
  CHECK_EQ(coio_event_clear(ev), 0);
  CHECK((t[3] = spawn(event_worker, &w[3])) != NULL);
  CHECK((t[4] = spawn(event_worker, &w[4])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_event_set(ev), 0);
  CHECK_EQ(coio_task_cancel(t[3], NULL), 0);
  CHECK_EQ(join(t[3]), COIO_ECANCELED);
  CHECK_EQ(join(t[4]), 0);
  CHECK_EQ(coio_event_free(ev), 0);
  return 0;
}

static void event_wakes_every_waiter(void **state) {
  (void)state;
  run_main(event_main, NULL);
}

/* ---- Condition --------------------------------------------------------------------- */

/* acquire; wait; record whether the lock is held; record id; release. */
static int cond_worker(void *arg, void **result) {
  worker_t *w = arg;
  int rc;
  (void)result;
  if ((rc = coio_condition_acquire(w->obj)) != 0)
    return rc;
  w->rc = coio_condition_wait(w->obj);
  w->held = coio_condition_locked(w->obj);
  w->done = 1;
  if (w->rc == 0)
    rec_add(w->rec, w->id);
  if (w->held)
    CHECK_EQ(coio_condition_release(w->obj), 0);
  return w->rc;
}

static int cond_notify_main(void *arg, void **result) {
  coio_condition_t *c;
  worker_t w[4];
  coio_task_t *t[4];
  rec_t rec = {{0}, 0};
  int i;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_condition_new(L, NULL, &c), 0);
  CHECK(coio_condition_lock(c) != NULL);
  /* without the lock */
  CHECK_EQ(coio_condition_wait(c), COIO_EINVALSTATE);
  CHECK_EQ(coio_condition_notify(c, 1), COIO_EINVALSTATE);
  CHECK_EQ(coio_condition_notify_all(c), COIO_EINVALSTATE);
  CHECK_EQ(coio_condition_release(c), COIO_EINVALSTATE);
  workers_init(w, 4, &rec, c);
  for (i = 0; i < 4; i++)
    CHECK((t[i] = spawn(cond_worker, &w[i])) != NULL);
  CHECK_EQ(yield(2), 0);
  CHECK_EQ(coio_condition_locked(c), 0); /* every waiter released it */
  CHECK_EQ(coio_condition_free(c), COIO_EBUSY);
  CHECK_EQ(coio_condition_acquire(c), 0);
  CHECK_EQ(coio_condition_notify(c, 1), 0);
  CHECK_EQ(coio_condition_release(c), 0);
  CHECK_EQ(yield(3), 0);
  CHECK(REC_IS(&rec, 0));
  CHECK_EQ(coio_condition_acquire(c), 0);
  CHECK_EQ(coio_condition_notify(c, 2), 0);
  CHECK_EQ(coio_condition_notify(c, 0), 0);
  CHECK_EQ(coio_condition_release(c), 0);
  CHECK_EQ(yield(4), 0);
  CHECK(REC_IS(&rec, 0, 1, 2));
  CHECK_EQ(coio_condition_acquire(c), 0);
  CHECK_EQ(coio_condition_notify_all(c), 0);
  CHECK_EQ(coio_condition_release(c), 0);
  for (i = 0; i < 4; i++) {
    CHECK_EQ(join(t[i]), 0);
    CHECK_EQ(w[i].held, 1);
  }
  CHECK(REC_IS(&rec, 0, 1, 2, 3));
  CHECK_EQ(coio_condition_locked(c), 0);
  CHECK_EQ(coio_condition_free(c), 0);
  return 0;
}

static void condition_notifies_in_order(void **state) {
  (void)state;
  run_main(cond_notify_main, NULL);
}

/* A waiter cancelled while the lock is held elsewhere returns only once it
 * has the lock again, reporting the cancel. */
static int cond_cancel_main(void *arg, void **result) {
  coio_condition_t *c;
  worker_t w[1];
  coio_task_t *t;
  rec_t rec = {{0}, 0};
  (void)arg;
  (void)result;
  CHECK_EQ(coio_condition_new(L, NULL, &c), 0);
  workers_init(w, 1, &rec, c);
  CHECK((t = spawn(cond_worker, &w[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_condition_acquire(c), 0);
  CHECK_EQ(coio_task_cancel(t, NULL), 0);
  CHECK_EQ(yield(3), 0);
  CHECK_EQ(w[0].done, 0); /* still waiting for the lock */
  CHECK_EQ(coio_condition_release(c), 0);
  CHECK_EQ(join(t), COIO_ECANCELED);
  CHECK_EQ(w[0].rc, COIO_ECANCELED);
  CHECK_EQ(w[0].held, 1);
  CHECK_EQ(coio_condition_locked(c), 0);
  CHECK_EQ(coio_condition_free(c), 0);
  return 0;
}

static void condition_cancelled_wait_reacquires_the_lock(void **state) {
  (void)state;
  run_main(cond_cancel_main, NULL);
}

/* notify(1) and cancel the notified waiter in the same step: the
 * notification goes to the next waiter. With reacquire set, the cancel
 * arrives later, while the notified waiter waits for the lock. */
static int cond_notified_cancel_main(void *arg, void **result) {
  int during_reacquire = *(int *)arg;
  coio_condition_t *c;
  worker_t w[3];
  coio_task_t *t[3];
  rec_t rec = {{0}, 0};
  int i;
  (void)result;
  CHECK_EQ(coio_condition_new(L, NULL, &c), 0);
  workers_init(w, 3, &rec, c);
  for (i = 0; i < 3; i++)
    CHECK((t[i] = spawn(cond_worker, &w[i])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_condition_acquire(c), 0);
  CHECK_EQ(coio_condition_notify(c, 1), 0);
  if (during_reacquire) {
    CHECK_EQ(yield(2), 0); /* w0 runs and queues for the lock */
    CHECK_EQ(w[0].done, 0);
  }
  CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  CHECK_EQ(coio_condition_release(c), 0);
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK_EQ(w[0].held, 1);
  CHECK_EQ(join(t[1]), 0); /* got the notification w0 could not use */
  CHECK_EQ(w[1].held, 1);
  CHECK_EQ(w[2].done, 0); /* only one notification went round */
  CHECK(REC_IS(&rec, 1));
  CHECK_EQ(coio_condition_acquire(c), 0);
  CHECK_EQ(coio_condition_notify_all(c), 0);
  CHECK_EQ(coio_condition_release(c), 0);
  CHECK_EQ(join(t[2]), 0);
  CHECK_EQ(coio_condition_free(c), 0);
  return 0;
}

static void condition_notified_then_cancelled_passes_the_notification(void **state) {
  int during_reacquire = 0;
  (void)state;
  run_main(cond_notified_cancel_main, &during_reacquire);
}

static void condition_cancelled_while_reacquiring_passes_the_notification(void **state) {
  int during_reacquire = 1;
  (void)state;
  run_main(cond_notified_cancel_main, &during_reacquire);
}

typedef struct counter {
  coio_condition_t *c;
  int n;
  int target;
} counter_t;

static int reached(void *arg) {
  counter_t *k = arg;
  return k->n >= k->target;
}

static int wait_for_worker(void *arg, void **result) {
  counter_t *k = arg;
  int rc;
  (void)result;
  CHECK_EQ(coio_condition_acquire(k->c), 0);
  rc = coio_condition_wait_for(k->c, reached, k);
  CHECK_EQ(coio_condition_locked(k->c), 1);
  CHECK_EQ(coio_condition_release(k->c), 0);
  return rc;
}

static int cond_wait_for_main(void *arg, void **result) {
  counter_t k = {NULL, 0, 3};
  coio_task_t *t;
  coio_lock_t *l;
  coio_condition_t *c2;
  int i;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_lock_new(L, &l), 0);
  CHECK_EQ(coio_condition_new(L, l, &k.c), 0);
  CHECK(coio_condition_lock(k.c) == l);
  /* two conditions may share one lock; the lock outlives them */
  CHECK_EQ(coio_condition_new(L, l, &c2), 0);
  CHECK_EQ(coio_lock_free(l), COIO_EBUSY);
  CHECK_EQ(coio_condition_wait_for(k.c, reached, &k), COIO_EINVALSTATE);
  CHECK_EQ(coio_condition_acquire(k.c), 0);
  CHECK_EQ(coio_condition_locked(c2), 1);
  CHECK_EQ(coio_condition_wait_for(k.c, NULL, &k), COIO_EINVAL);
  CHECK_EQ(coio_condition_release(c2), 0);
  CHECK((t = spawn(wait_for_worker, &k)) != NULL);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(yield(2), 0);
    CHECK_EQ(coio_future_done(t), 0);
    CHECK_EQ(coio_condition_acquire(k.c), 0);
    k.n++;
    CHECK_EQ(coio_condition_notify_all(k.c), 0);
    CHECK_EQ(coio_condition_release(k.c), 0);
  }
  CHECK_EQ(join(t), 0);
  /* a true predicate returns at once */
  CHECK_EQ(coio_condition_acquire(k.c), 0);
  CHECK_EQ(coio_condition_wait_for(k.c, reached, &k), 0);
  CHECK_EQ(coio_condition_release(k.c), 0);
  CHECK_EQ(coio_condition_free(k.c), 0);
  CHECK_EQ(coio_condition_free(c2), 0);
  CHECK_EQ(coio_lock_free(l), 0);
  return 0;
}

static void condition_wait_for_and_shared_locks(void **state) {
  (void)state;
  run_main(cond_wait_for_main, NULL);
}

/* ---- Semaphore ---------------------------------------------------------------------- */

static int sem_worker(void *arg, void **result) {
  worker_t *w = arg;
  (void)result;
  w->rc = coio_semaphore_acquire(w->obj);
  w->done = 1;
  if (w->rc != 0)
    return w->rc;
  rec_add(w->rec, w->id);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_semaphore_release(w->obj), 0);
  return 0;
}

static int sem_fifo_main(void *arg, void **result) {
  coio_semaphore_t *s;
  worker_t w[3];
  coio_task_t *t[3];
  rec_t rec = {{0}, 0};
  int i;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_semaphore_new(L, 2, &s), 0);
  CHECK_EQ(coio_semaphore_value(s), 2);
  CHECK_EQ(coio_semaphore_locked(s), 0);
  CHECK_EQ(coio_semaphore_acquire(s), 0);
  CHECK_EQ(coio_semaphore_acquire(s), 0);
  CHECK_EQ(coio_semaphore_locked(s), 1);
  workers_init(w, 3, &rec, s);
  for (i = 0; i < 3; i++)
    CHECK((t[i] = spawn(sem_worker, &w[i])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(rec.n, 0);
  CHECK_EQ(coio_semaphore_free(s), COIO_EBUSY);
  /* One release: handed to w0, value stays 0; this task, a newcomer,
   * queues behind w1 and w2. */
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_value(s), 0);
  CHECK_EQ(coio_semaphore_locked(s), 1);
  CHECK_EQ(coio_semaphore_acquire(s), 0);
  rec_add(&rec, 99);
  CHECK(REC_IS(&rec, 0, 1, 2, 99));
  for (i = 0; i < 3; i++)
    CHECK_EQ(join(t[i]), 0);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_value(s), 2); /* every permit came back */
  CHECK_EQ(coio_semaphore_free(s), 0);
  return 0;
}

static void semaphore_is_fifo_without_barging(void **state) {
  (void)state;
  run_main(sem_fifo_main, NULL);
}

/* Semaphore._wake_up_next's race: the permit handed to a waiter cancelled
 * in the same step (after or before) goes to the next one. */
static int sem_cancel_race_main(void *arg, void **result) {
  int cancel_first = *(int *)arg;
  coio_semaphore_t *s;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  (void)result;
  CHECK_EQ(coio_semaphore_new(L, 0, &s), 0);
  workers_init(w, 2, &rec, s);
  CHECK((t[0] = spawn(sem_worker, &w[0])) != NULL);
  CHECK((t[1] = spawn(sem_worker, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  if (cancel_first) {
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
    CHECK_EQ(coio_semaphore_release(s), 0);
  } else {
    CHECK_EQ(coio_semaphore_release(s), 0);
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  }
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK_EQ(join(t[1]), 0);
  CHECK(REC_IS(&rec, 1));
  CHECK_EQ(coio_semaphore_value(s), 1); /* the one permit, not lost, not doubled */
  CHECK_EQ(coio_semaphore_free(s), 0);
  return 0;
}

static void semaphore_cancelled_after_grant_passes_the_permit(void **state) {
  int cancel_first = 0;
  (void)state;
  run_main(sem_cancel_race_main, &cancel_first);
}

static void semaphore_cancelled_before_release_is_skipped(void **state) {
  int cancel_first = 1;
  (void)state;
  run_main(sem_cancel_race_main, &cancel_first);
}

static int bounded_main(void *arg, void **result) {
  coio_semaphore_t *s;
  worker_t w[1];
  coio_task_t *t;
  rec_t rec = {{0}, 0};
  (void)arg;
  (void)result;
  CHECK_EQ(coio_bounded_semaphore_new(L, 2, &s), 0);
  CHECK_EQ(coio_semaphore_release(s), COIO_ERANGE);
  CHECK_EQ(coio_semaphore_acquire(s), 0);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_release(s), COIO_ERANGE);
  CHECK_EQ(coio_semaphore_value(s), 2);
  /* a hand-over to a waiter is not an over-release */
  CHECK_EQ(coio_semaphore_acquire(s), 0);
  CHECK_EQ(coio_semaphore_acquire(s), 0);
  workers_init(w, 1, &rec, s);
  CHECK((t = spawn(sem_worker, &w[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(join(t), 0);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_value(s), 2);
  CHECK_EQ(coio_semaphore_release(s), COIO_ERANGE);
  CHECK_EQ(coio_semaphore_free(s), 0);
  /* an unbounded one may go above its start */
  CHECK_EQ(coio_semaphore_new(L, 0, &s), 0);
  CHECK_EQ(coio_semaphore_locked(s), 1);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_release(s), 0);
  CHECK_EQ(coio_semaphore_value(s), 2);
  CHECK_EQ(coio_semaphore_free(s), 0);
  return 0;
}

static void bounded_semaphore_refuses_over_release(void **state) {
  (void)state;
  run_main(bounded_main, NULL);
}

/* ---- Queue ------------------------------------------------------------------------ */

#define ITEM(n) ((void *)(intptr_t)(n))
#define NUM(p) ((int)(intptr_t)(p))

static coio_queue_t *queue_new(coio_queue_kind_t kind, size_t maxsize, void (*dtor)(void *)) {
  coio_queue_options_t o;
  coio_queue_t *q = NULL;
  memset(&o, 0, sizeof o);
  o.kind = kind;
  o.maxsize = maxsize;
  o.item_dtor = dtor;
  if (coio_queue_new(L, &o, &q) != 0)
    return NULL;
  return q;
}

static int getter(void *arg, void **result) {
  worker_t *w = arg;
  (void)result;
  w->rc = coio_queue_get(w->obj, &w->item);
  w->done = 1;
  if (w->rc == 0)
    rec_add(w->rec, NUM(w->item));
  return w->rc;
}

static int putter(void *arg, void **result) {
  worker_t *w = arg;
  (void)result;
  w->rc = coio_queue_put(w->obj, w->item);
  w->done = 1;
  return w->rc;
}

static int drain(coio_queue_t *q, rec_t *rec) {
  void *item;
  int rc;
  while ((rc = coio_queue_get_nowait(q, &item)) == 0)
    rec_add(rec, NUM(item));
  return rc;
}

typedef struct named {
  int prio;
  const char *name;
  int tag;
} named_t;

static int by_name(const void *a, const void *b, void *data) {
  (void)data;
  return strcmp(((const named_t *)a)->name, ((const named_t *)b)->name);
}

static int queue_order_main(void *arg, void **result) {
  coio_queue_t *q;
  coio_queue_options_t o;
  rec_t rec = {{0}, 0};
  /* (priority, tag): equal priorities keep their arrival order */
  static const int pr[8][2] = {{5, 1}, {1, 2}, {3, 3}, {1, 4}, {5, 5}, {-2, 6}, {3, 7}, {1, 8}};
  named_t nm[5] = {{0, "pear", 1}, {0, "apple", 2}, {0, "fig", 3}, {0, "apple", 4}, {0, "fig", 5}};
  void *item;
  int i;
  (void)arg;
  (void)result;
  /* FIFO */
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 0, NULL)) != NULL);
  for (i = 1; i <= 20; i++) /* past the first growth, wrapping the ring */
    CHECK_EQ(coio_queue_put_nowait(q, ITEM(i)), 0);
  for (i = 1; i <= 5; i++) {
    CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
    CHECK_EQ(NUM(item), i);
  }
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(21)), 0);
  CHECK_EQ(coio_queue_qsize(q), 16);
  for (i = 6; i <= 21; i++) {
    CHECK_EQ(coio_queue_get(q, &item), 0);
    CHECK_EQ(NUM(item), i);
  }
  CHECK_EQ(coio_queue_put_priority(q, ITEM(1), 1), COIO_EINVAL);
  CHECK_EQ(coio_queue_put_nowait_priority(q, ITEM(1), 1), COIO_EINVAL);
  CHECK_EQ(coio_queue_free(q), 0);
  /* LIFO */
  CHECK((q = queue_new(COIO_QUEUE_LIFO, 0, NULL)) != NULL);
  for (i = 1; i <= 10; i++)
    CHECK_EQ(coio_queue_put(q, ITEM(i)), 0);
  for (i = 10; i >= 1; i--) {
    CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
    CHECK_EQ(NUM(item), i);
  }
  CHECK_EQ(coio_queue_free(q), 0);
  /* PRIORITY by integer, stable */
  CHECK((q = queue_new(COIO_QUEUE_PRIORITY, 0, NULL)) != NULL);
  for (i = 0; i < 8; i++)
    CHECK_EQ(coio_queue_put_nowait_priority(q, ITEM(pr[i][1]), pr[i][0]), 0);
  CHECK_EQ(coio_queue_put_priority(q, ITEM(9), 3), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(10)), 0); /* plain put: priority 0 */
  CHECK_EQ(drain(q, &rec), COIO_EAGAIN);
  CHECK(REC_IS(&rec, 6, 10, 2, 4, 8, 3, 7, 9, 1, 5));
  CHECK_EQ(coio_queue_free(q), 0);
  /* PRIORITY by a comparison, stable for equal items */
  memset(&o, 0, sizeof o);
  o.kind = COIO_QUEUE_PRIORITY;
  o.compare = by_name;
  CHECK_EQ(coio_queue_new(L, &o, &q), 0);
  for (i = 0; i < 5; i++)
    CHECK_EQ(coio_queue_put_nowait(q, &nm[i]), 0);
  rec.n = 0;
  while (coio_queue_get_nowait(q, &item) == 0)
    rec_add(&rec, ((named_t *)item)->tag);
  CHECK(REC_IS(&rec, 2, 4, 3, 5, 1));
  /* the integer priority comes first, the comparison breaks ties */
  CHECK_EQ(coio_queue_put_nowait_priority(q, &nm[0], 1), 0);
  CHECK_EQ(coio_queue_put_nowait_priority(q, &nm[1], 2), 0);
  CHECK_EQ(coio_queue_put_nowait_priority(q, &nm[2], 1), 0);
  rec.n = 0;
  while (coio_queue_get_nowait(q, &item) == 0)
    rec_add(&rec, ((named_t *)item)->tag);
  CHECK(REC_IS(&rec, 3, 1, 2));
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_fifo_lifo_priority_order(void **state) {
  (void)state;
  run_main(queue_order_main, NULL);
}

static int queue_bounds_main(void *arg, void **result) {
  coio_queue_t *q;
  coio_queue_options_t o;
  void *item = ITEM(7);
  (void)arg;
  (void)result;
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 2, NULL)) != NULL);
  CHECK_EQ(coio_queue_maxsize(q), 2);
  CHECK_EQ(coio_queue_empty(q), 1);
  CHECK_EQ(coio_queue_full(q), 0);
  CHECK_EQ(coio_queue_get_nowait(q, &item), COIO_EAGAIN);
  CHECK(item == NULL);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(1)), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(2)), 0);
  CHECK_EQ(coio_queue_full(q), 1);
  CHECK_EQ(coio_queue_empty(q), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(3)), COIO_EAGAIN);
  CHECK_EQ(coio_queue_qsize(q), 2);
  CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
  CHECK_EQ(NUM(item), 1);
  CHECK_EQ(coio_queue_full(q), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  /* unbounded: never full */
  CHECK((q = queue_new(COIO_QUEUE_LIFO, 0, NULL)) != NULL);
  CHECK_EQ(coio_queue_full(q), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  /* options */
  memset(&o, 0, sizeof o);
  o.kind = (coio_queue_kind_t)7;
  CHECK_EQ(coio_queue_new(L, &o, &q), COIO_EINVAL);
  CHECK(q == NULL);
  o.kind = COIO_QUEUE_FIFO;
  o.compare = by_name;
  CHECK_EQ(coio_queue_new(L, &o, &q), COIO_EINVAL);
  CHECK_EQ(coio_queue_new(L, NULL, &q), 0);
  CHECK_EQ(coio_queue_maxsize(q), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_nowait_calls_and_bounds(void **state) {
  (void)state;
  run_main(queue_bounds_main, NULL);
}

/* Putters blocked on a full queue are served in order; getters too. */
static int queue_fifo_waiters_main(void *arg, void **result) {
  coio_queue_t *q;
  worker_t p[3], g[3];
  coio_task_t *tp[3], *tg[3];
  rec_t rec = {{0}, 0}, grec = {{0}, 0};
  void *item;
  int i;
  (void)arg;
  (void)result;
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 1, NULL)) != NULL);
  workers_init(p, 3, &rec, q);
  for (i = 0; i < 3; i++) {
    p[i].item = ITEM(10 + i);
    CHECK((tp[i] = spawn(putter, &p[i])) != NULL);
  }
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(p[0].done, 1); /* there was room for one */
  CHECK_EQ(p[1].done + p[2].done, 0);
  CHECK_EQ(coio_queue_full(q), 1);
  CHECK_EQ(coio_queue_free(q), COIO_EBUSY);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(coio_queue_get(q, &item), 0);
    rec_add(&rec, NUM(item));
  }
  for (i = 0; i < 3; i++)
    CHECK_EQ(join(tp[i]), 0);
  CHECK(REC_IS(&rec, 10, 11, 12));
  /* getters */
  workers_init(g, 3, &grec, q);
  for (i = 0; i < 3; i++)
    CHECK((tg[i] = spawn(getter, &g[i])) != NULL);
  CHECK_EQ(yield(1), 0);
  for (i = 0; i < 3; i++)
    CHECK_EQ(coio_queue_put(q, ITEM(20 + i)), 0);
  for (i = 0; i < 3; i++) {
    CHECK_EQ(join(tg[i]), 0);
    CHECK_EQ(NUM(g[i].item), 20 + i);
  }
  CHECK_EQ(coio_queue_qsize(q), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_waiters_are_served_in_order(void **state) {
  (void)state;
  run_main(queue_fifo_waiters_main, NULL);
}

/* An item set aside for a woken getter is not taken by get_nowait, and a
 * slot set aside for a woken putter is not taken by put_nowait. */
static int queue_reservation_main(void *arg, void **result) {
  coio_queue_t *q;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  void *item;
  (void)arg;
  (void)result;
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 1, NULL)) != NULL);
  workers_init(w, 2, &rec, q);
  CHECK((t[0] = spawn(getter, &w[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(1)), 0);
  CHECK_EQ(coio_queue_qsize(q), 1);
  CHECK_EQ(coio_queue_get_nowait(q, &item), COIO_EAGAIN);
  CHECK_EQ(join(t[0]), 0);
  CHECK_EQ(NUM(w[0].item), 1);
  /* putter side */
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(2)), 0);
  w[1].item = ITEM(3);
  CHECK((t[1] = spawn(putter, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
  CHECK_EQ(NUM(item), 2);
  CHECK_EQ(coio_queue_full(q), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(4)), COIO_EAGAIN); /* the slot is w1's */
  CHECK_EQ(join(t[1]), 0);
  CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
  CHECK_EQ(NUM(item), 3);
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_woken_waiters_keep_their_item_or_slot(void **state) {
  (void)state;
  run_main(queue_reservation_main, NULL);
}

/* The getters' race: an item put while the first getter is cancelled (in
 * the same step, after or before) goes to the second getter. */
static int queue_getter_race_main(void *arg, void **result) {
  int cancel_first = *(int *)arg;
  coio_queue_t *q;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  (void)result;
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 0, NULL)) != NULL);
  workers_init(w, 2, &rec, q);
  CHECK((t[0] = spawn(getter, &w[0])) != NULL);
  CHECK((t[1] = spawn(getter, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  if (cancel_first) {
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
    CHECK_EQ(coio_queue_put_nowait(q, ITEM(42)), 0);
  } else {
    CHECK_EQ(coio_queue_put_nowait(q, ITEM(42)), 0);
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  }
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK(w[0].item == NULL);
  CHECK_EQ(join(t[1]), 0);
  CHECK_EQ(NUM(w[1].item), 42);
  CHECK_EQ(coio_queue_qsize(q), 0);
  /* no reservation left behind */
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(43)), 0);
  CHECK_EQ(drain(q, &rec), COIO_EAGAIN);
  CHECK(REC_IS(&rec, 42, 43));
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_item_for_a_cancelled_getter_goes_to_the_next(void **state) {
  int cancel_first = 0;
  (void)state;
  run_main(queue_getter_race_main, &cancel_first);
}

static void queue_getter_cancelled_before_the_put_is_skipped(void **state) {
  int cancel_first = 1;
  (void)state;
  run_main(queue_getter_race_main, &cancel_first);
}

/* The putters' race: a slot freed while the first putter is cancelled goes
 * to the second putter; the cancelled putter's item is not in the queue. */
static int queue_putter_race_main(void *arg, void **result) {
  int cancel_first = *(int *)arg;
  coio_queue_t *q;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  void *item;
  (void)result;
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 1, NULL)) != NULL);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(1)), 0);
  workers_init(w, 2, &rec, q);
  w[0].item = ITEM(2);
  w[1].item = ITEM(3);
  CHECK((t[0] = spawn(putter, &w[0])) != NULL);
  CHECK((t[1] = spawn(putter, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  if (cancel_first) {
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
    CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
  } else {
    CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
    CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  }
  CHECK_EQ(NUM(item), 1);
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK_EQ(join(t[1]), 0);
  CHECK_EQ(coio_queue_qsize(q), 1);
  CHECK_EQ(drain(q, &rec), COIO_EAGAIN);
  CHECK(REC_IS(&rec, 3));
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(4)), 0); /* the slot is free */
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_slot_for_a_cancelled_putter_goes_to_the_next(void **state) {
  int cancel_first = 0;
  (void)state;
  run_main(queue_putter_race_main, &cancel_first);
}

static void queue_putter_cancelled_before_the_get_is_skipped(void **state) {
  int cancel_first = 1;
  (void)state;
  run_main(queue_putter_race_main, &cancel_first);
}

static int joiner(void *arg, void **result) {
  worker_t *w = arg;
  (void)result;
  w->rc = coio_queue_join(w->obj);
  w->done = 1;
  return w->rc;
}

static int queue_join_main(void *arg, void **result) {
  coio_queue_t *q;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  void *item;
  int i;
  (void)arg;
  (void)result;
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 0, NULL)) != NULL);
  CHECK_EQ(coio_queue_join(q), 0); /* nothing pending */
  CHECK_EQ(coio_queue_task_done(q), COIO_ERANGE);
  for (i = 0; i < 3; i++)
    CHECK_EQ(coio_queue_put_nowait(q, ITEM(i)), 0);
  workers_init(w, 2, &rec, q);
  CHECK((t[0] = spawn(joiner, &w[0])) != NULL);
  CHECK((t[1] = spawn(joiner, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  for (i = 0; i < 3; i++)
    CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
  CHECK_EQ(coio_queue_task_done(q), 0);
  CHECK_EQ(coio_queue_task_done(q), 0);
  CHECK_EQ(yield(2), 0);
  CHECK_EQ(w[0].done + w[1].done, 0); /* one item not done yet */
  CHECK_EQ(coio_task_cancel(t[1], NULL), 0);
  CHECK_EQ(join(t[1]), COIO_ECANCELED);
  CHECK_EQ(coio_queue_task_done(q), 0);
  CHECK_EQ(join(t[0]), 0);
  CHECK_EQ(coio_queue_task_done(q), COIO_ERANGE);
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_task_done_and_join(void **state) {
  (void)state;
  run_main(queue_join_main, NULL);
}

static int queue_shutdown_main(void *arg, void **result) {
  coio_queue_t *q;
  worker_t g[1], p[1];
  coio_task_t *tg, *tp;
  rec_t rec = {{0}, 0};
  void *item;
  (void)arg;
  (void)result;
  /* a waiting getter on an empty queue fails */
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 2, NULL)) != NULL);
  workers_init(g, 1, &rec, q);
  CHECK((tg = spawn(getter, &g[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_queue_is_shutdown(q), 0);
  CHECK_EQ(coio_queue_shutdown(q, 0), 0);
  CHECK_EQ(coio_queue_is_shutdown(q), 1);
  CHECK_EQ(join(tg), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_free(q), 0);
  /* a waiting putter fails; the items left can still be taken */
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 2, NULL)) != NULL);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(1)), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(2)), 0);
  workers_init(p, 1, &rec, q);
  p[0].item = ITEM(3);
  CHECK((tp = spawn(putter, &p[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_queue_shutdown(q, 0), 0);
  CHECK_EQ(join(tp), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(4)), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_put(q, ITEM(4)), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_get_nowait(q, &item), 0);
  CHECK_EQ(NUM(item), 1);
  CHECK_EQ(coio_queue_get(q, &item), 0);
  CHECK_EQ(NUM(item), 2);
  CHECK_EQ(coio_queue_get(q, &item), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_get_nowait(q, &item), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_shutdown(q, 0), 0); /* again */
  /* join still counts the items taken and not done */
  CHECK_EQ(coio_queue_task_done(q), 0);
  CHECK_EQ(coio_queue_task_done(q), 0);
  CHECK_EQ(coio_queue_join(q), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  return 0;
}

static void queue_shutdown_lets_the_items_left_be_taken(void **state) {
  (void)state;
  run_main(queue_shutdown_main, NULL);
}

static int dropped;
static void count_drop(void *item) {
  (void)item;
  dropped++;
}

static int queue_shutdown_now_main(void *arg, void **result) {
  coio_queue_t *q;
  worker_t g[1], p[1], j[1];
  coio_task_t *tg, *tp, *tj;
  rec_t rec = {{0}, 0};
  void *item;
  (void)arg;
  (void)result;
  dropped = 0;
  CHECK((q = queue_new(COIO_QUEUE_PRIORITY, 3, count_drop)) != NULL);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(1)), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(2)), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(3)), 0);
  CHECK_EQ(coio_queue_get_nowait(q, &item), 0); /* taken, not done */
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(4)), 0);
  workers_init(p, 1, &rec, q);
  p[0].item = ITEM(5);
  workers_init(j, 1, &rec, q);
  CHECK((tp = spawn(putter, &p[0])) != NULL);
  CHECK((tj = spawn(joiner, &j[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_queue_shutdown(q, 1), 0);
  CHECK_EQ(dropped, 3);
  CHECK_EQ(coio_queue_qsize(q), 0);
  CHECK_EQ(join(tp), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_get_nowait(q, &item), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_get(q, &item), COIO_ESHUTDOWN);
  CHECK_EQ(yield(2), 0);
  CHECK_EQ(j[0].done, 0); /* the item taken is not done yet */
  CHECK_EQ(coio_queue_task_done(q), 0);
  CHECK_EQ(join(tj), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  CHECK_EQ(dropped, 3);
  /* an item set aside for a woken getter is dropped too: the getter fails */
  CHECK((q = queue_new(COIO_QUEUE_FIFO, 0, count_drop)) != NULL);
  workers_init(g, 1, &rec, q);
  CHECK((tg = spawn(getter, &g[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(6)), 0);
  CHECK_EQ(coio_queue_shutdown(q, 1), 0);
  CHECK_EQ(dropped, 4);
  CHECK_EQ(join(tg), COIO_ESHUTDOWN);
  CHECK_EQ(coio_queue_join(q), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  /* free drops what is left */
  CHECK((q = queue_new(COIO_QUEUE_LIFO, 0, count_drop)) != NULL);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(7)), 0);
  CHECK_EQ(coio_queue_put_nowait(q, ITEM(8)), 0);
  CHECK_EQ(coio_queue_free(q), 0);
  CHECK_EQ(dropped, 6);
  return 0;
}

static void queue_shutdown_immediate_drops_the_items(void **state) {
  (void)state;
  run_main(queue_shutdown_now_main, NULL);
}

/* ---- Barrier ------------------------------------------------------------------------ */

static int barrier_worker(void *arg, void **result) {
  worker_t *w = arg;
  int i;
  (void)result;
  for (i = 0; i < (w->rounds ? w->rounds : 1); i++) {
    w->rc = coio_barrier_wait(w->obj, &w->index);
    if (w->rc != 0)
      break;
    rec_add(w->rec, (int)w->index);
  }
  w->done = 1;
  return w->rc;
}

static int barrier_rounds_main(void *arg, void **result) {
  coio_barrier_t *b;
  worker_t w[3];
  coio_task_t *t[3];
  rec_t rec = {{0}, 0};
  int i, seen[3] = {0, 0, 0};
  (void)arg;
  (void)result;
  CHECK_EQ(coio_barrier_new(L, 3, &b), 0);
  CHECK_EQ(coio_barrier_parties(b), 3);
  CHECK_EQ(coio_barrier_n_waiting(b), 0);
  CHECK_EQ(coio_barrier_broken(b), 0);
  workers_init(w, 3, &rec, b);
  for (i = 0; i < 3; i++)
    w[i].rounds = 2;
  CHECK((t[0] = spawn(barrier_worker, &w[0])) != NULL);
  CHECK((t[1] = spawn(barrier_worker, &w[1])) != NULL);
  CHECK_EQ(yield(2), 0);
  CHECK_EQ(coio_barrier_n_waiting(b), 2);
  CHECK_EQ(rec.n, 0);
  CHECK_EQ(coio_barrier_free(b), COIO_EBUSY);
  CHECK((t[2] = spawn(barrier_worker, &w[2])) != NULL);
  for (i = 0; i < 3; i++)
    CHECK_EQ(join(t[i]), 0);
  CHECK_EQ(rec.n, 6);
  for (i = 0; i < 6; i++)
    seen[rec.v[i]]++;
  CHECK(seen[0] == 2 && seen[1] == 2 && seen[2] == 2);
  /* arrival order in the first round */
  CHECK(rec.v[0] == 2 && w[0].index != w[1].index);
  CHECK_EQ(coio_barrier_n_waiting(b), 0);
  CHECK_EQ(coio_barrier_free(b), 0);
  /* a barrier of one never waits */
  CHECK_EQ(coio_barrier_new(L, 1, &b), 0);
  CHECK_EQ(coio_barrier_wait(b, NULL), 0);
  CHECK_EQ(coio_barrier_wait(b, &w[0].index), 0);
  CHECK_EQ(w[0].index, 0);
  CHECK_EQ(coio_barrier_free(b), 0);
  return 0;
}

static void barrier_releases_full_rounds(void **state) {
  (void)state;
  run_main(barrier_rounds_main, NULL);
}

/* A task arriving while the previous round is still leaving waits for the
 * next round (asyncio's DRAINING state). */
static int barrier_draining_main(void *arg, void **result) {
  coio_barrier_t *b;
  worker_t w[2];
  coio_task_t *t[2];
  rec_t rec = {{0}, 0};
  size_t idx;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_barrier_new(L, 2, &b), 0);
  workers_init(w, 2, &rec, b);
  CHECK((t[0] = spawn(barrier_worker, &w[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_wait(b, &idx), 0); /* completes the round */
  CHECK_EQ(idx, 1);
  CHECK_EQ(coio_barrier_n_waiting(b), 0); /* draining: w0 has not left yet */
  CHECK((t[1] = spawn(barrier_worker, &w[1])) != NULL);
  /* w0 still inside: this waits for it to leave, then w1 arrives first */
  CHECK_EQ(coio_barrier_wait(b, &idx), 0);
  CHECK_EQ(idx, 1);
  CHECK_EQ(join(t[0]), 0);
  CHECK_EQ(w[0].index, 0);
  CHECK_EQ(join(t[1]), 0);
  CHECK_EQ(w[1].index, 0);
  CHECK_EQ(coio_barrier_free(b), 0);
  return 0;
}

static void barrier_blocks_arrivals_while_draining(void **state) {
  (void)state;
  run_main(barrier_draining_main, NULL);
}

static int barrier_abort_reset_main(void *arg, void **result) {
  coio_barrier_t *b;
  worker_t w[6];
  coio_task_t *t[6];
  rec_t rec = {{0}, 0};
  int i;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_barrier_new(L, 3, &b), 0);
  workers_init(w, 6, &rec, b);
  /* abort: the waiting tasks and later waits fail */
  CHECK((t[0] = spawn(barrier_worker, &w[0])) != NULL);
  CHECK((t[1] = spawn(barrier_worker, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_abort(b), 0);
  CHECK_EQ(coio_barrier_broken(b), 1);
  CHECK_EQ(coio_barrier_n_waiting(b), 0);
  CHECK_EQ(join(t[0]), COIO_EINVALSTATE);
  CHECK_EQ(join(t[1]), COIO_EINVALSTATE);
  CHECK_EQ(coio_barrier_wait(b, NULL), COIO_EINVALSTATE);
  /* reset: usable again */
  CHECK_EQ(coio_barrier_reset(b), 0);
  CHECK_EQ(coio_barrier_broken(b), 0);
  /* reset with tasks waiting: they fail, the barrier is reusable */
  CHECK((t[2] = spawn(barrier_worker, &w[2])) != NULL);
  CHECK((t[3] = spawn(barrier_worker, &w[3])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_n_waiting(b), 2);
  CHECK_EQ(coio_barrier_reset(b), 0);
  CHECK_EQ(coio_barrier_broken(b), 0);
  CHECK_EQ(join(t[2]), COIO_EINVALSTATE);
  CHECK_EQ(join(t[3]), COIO_EINVALSTATE);
  CHECK_EQ(coio_barrier_n_waiting(b), 0);
  CHECK((t[4] = spawn(barrier_worker, &w[4])) != NULL);
  CHECK((t[5] = spawn(barrier_worker, &w[5])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_wait(b, &w[0].index), 0);
  CHECK_EQ(w[0].index, 2);
  CHECK_EQ(join(t[4]), 0);
  CHECK_EQ(join(t[5]), 0);
  CHECK(REC_IS(&rec, 0, 1));
  for (i = 0; i < 2; i++)
    CHECK_EQ(w[4 + i].index, (size_t)i);
  CHECK_EQ(coio_barrier_free(b), 0);
  return 0;
}

static void barrier_abort_and_reset(void **state) {
  (void)state;
  run_main(barrier_abort_reset_main, NULL);
}

/* A cancelled waiter leaves the round; one released and cancelled in the
 * same step reports the cancel without disturbing the others. */
static int barrier_cancel_main(void *arg, void **result) {
  coio_barrier_t *b;
  worker_t w[4];
  coio_task_t *t[4];
  rec_t rec = {{0}, 0};
  size_t idx;
  (void)arg;
  (void)result;
  CHECK_EQ(coio_barrier_new(L, 2, &b), 0);
  workers_init(w, 4, &rec, b);
  CHECK((t[0] = spawn(barrier_worker, &w[0])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_n_waiting(b), 1);
  CHECK_EQ(coio_task_cancel(t[0], NULL), 0);
  CHECK_EQ(join(t[0]), COIO_ECANCELED);
  CHECK_EQ(coio_barrier_n_waiting(b), 0);
  CHECK((t[1] = spawn(barrier_worker, &w[1])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_wait(b, &idx), 0);
  CHECK_EQ(idx, 1);
  CHECK_EQ(join(t[1]), 0);
  CHECK_EQ(w[1].index, 0);
  /* released, then cancelled before it ran */
  CHECK((t[2] = spawn(barrier_worker, &w[2])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_wait(b, &idx), 0);
  CHECK_EQ(coio_task_cancel(t[2], NULL), 0);
  CHECK_EQ(join(t[2]), COIO_ECANCELED);
  CHECK_EQ(coio_barrier_n_waiting(b), 0);
  /* and the next round is normal */
  CHECK((t[3] = spawn(barrier_worker, &w[3])) != NULL);
  CHECK_EQ(yield(1), 0);
  CHECK_EQ(coio_barrier_wait(b, &idx), 0);
  CHECK_EQ(idx, 1);
  CHECK_EQ(join(t[3]), 0);
  CHECK_EQ(coio_barrier_free(b), 0);
  return 0;
}

static void barrier_cancelled_waiter_leaves_the_round(void **state) {
  (void)state;
  run_main(barrier_cancel_main, NULL);
}

/* ---- random cancellations ---------------------------------------------------------
 * Workers do random operations on a lock, a semaphore, a bounded queue and a
 * condition-guarded counter while a chaos task cancels them at random (a
 * worker swallows the cancel and goes on). Then: mutual exclusion held, the
 * semaphore's permits and the lock all came back, every item put was got
 * exactly once, and no consumer waits on the condition while the counter
 * is positive (no notification lost). Deterministic for a seed. */

#define NW 8
#define ITER 60
#define NCHAOS 200

typedef struct stress {
  unsigned rng;
  coio_lock_t *lock;
  int in_lock;
  coio_semaphore_t *sem;
  int sem_holders;
  coio_queue_t *q;
  int next_item;
  unsigned char put_ok[NW * ITER + 1], got[NW * ITER + 1];
  int n_put, n_got;
  coio_condition_t *cond;
  int avail, produced, consumed, cdone;
  int running; /* workers neither finished nor in a queue or condition wait */
  int in_get, in_put;
  coio_task_t *w[NW];
} stress_t;

static unsigned rnd(stress_t *s) {
  s->rng = s->rng * 1103515245u + 12345u;
  return (s->rng >> 16) & 0x7fffu;
}

static int avail_or_done(void *arg) {
  stress_t *s = arg;
  return s->avail > 0 || s->cdone;
}

static int stress_op(stress_t *s) {
  int rc;
  void *item;
  switch (rnd(s) % 6) {
  case 0:
    if ((rc = coio_lock_acquire(s->lock)) != 0)
      return rc == COIO_ECANCELED ? 0 : test_note_fail(__LINE__, "lock", rc, 0);
    CHECK_EQ(s->in_lock, 0);
    s->in_lock = 1;
    (void)yield((int)(rnd(s) % 3)); /* a cancel here is ignored */
    s->in_lock = 0;
    CHECK_EQ(coio_lock_release(s->lock), 0);
    return 0;
  case 1:
    if ((rc = coio_semaphore_acquire(s->sem)) != 0)
      return rc == COIO_ECANCELED ? 0 : test_note_fail(__LINE__, "sem", rc, 0);
    CHECK(++s->sem_holders <= 2);
    (void)yield((int)(rnd(s) % 3));
    s->sem_holders--;
    CHECK_EQ(coio_semaphore_release(s->sem), 0);
    return 0;
  case 2: {
    int n = ++s->next_item;
    s->running--;
    s->in_put++;
    rc = coio_queue_put(s->q, ITEM(n));
    s->in_put--;
    s->running++;
    if (rc == 0) {
      s->put_ok[n] = 1;
      s->n_put++;
    } else if (rc != COIO_ECANCELED && rc != COIO_ESHUTDOWN) {
      return test_note_fail(__LINE__, "put", rc, 0);
    }
    return 0;
  }
  case 3:
    s->running--;
    s->in_get++;
    rc = coio_queue_get(s->q, &item);
    s->in_get--;
    s->running++;
    if (rc == 0) {
      CHECK(s->put_ok[NUM(item)] && !s->got[NUM(item)]);
      s->got[NUM(item)] = 1;
      s->n_got++;
    } else if (rc != COIO_ECANCELED && rc != COIO_ESHUTDOWN) {
      return test_note_fail(__LINE__, "get", rc, 0);
    }
    return 0;
  case 4: /* produce */
    if ((rc = coio_condition_acquire(s->cond)) != 0)
      return rc == COIO_ECANCELED ? 0 : test_note_fail(__LINE__, "produce", rc, 0);
    s->avail++;
    s->produced++;
    CHECK_EQ(coio_condition_notify(s->cond, 1), 0);
    CHECK_EQ(coio_condition_release(s->cond), 0);
    return 0;
  default: /* consume */
    if ((rc = coio_condition_acquire(s->cond)) != 0)
      return rc == COIO_ECANCELED ? 0 : test_note_fail(__LINE__, "consume", rc, 0);
    s->running--;
    rc = coio_condition_wait_for(s->cond, avail_or_done, s);
    s->running++;
    CHECK_EQ(coio_condition_locked(s->cond), 1); /* held, even if cancelled */
    if (rc == 0 && s->avail > 0) {
      s->avail--;
      s->consumed++;
    } else if (rc != 0 && rc != COIO_ECANCELED) {
      return test_note_fail(__LINE__, "wait_for", rc, 0);
    }
    CHECK_EQ(coio_condition_release(s->cond), 0);
    return 0;
  }
}

static int stress_worker(void *arg, void **result) {
  stress_t *s = arg;
  coio_task_t *self = coio_task_current();
  int i, rc;
  (void)result;
  for (i = 0; i < ITER; i++) {
    if ((rc = stress_op(s)) != 0)
      return rc;
    while (coio_task_cancelling(self) > 0) /* swallow the cancels */
      coio_task_uncancel(self);
  }
  s->running--;
  return 0;
}

static int stress_chaos(void *arg, void **result) {
  stress_t *s = arg;
  int i;
  (void)result;
  for (i = 0; i < NCHAOS; i++) {
    (void)yield(1 + (int)(rnd(s) % 2));
    coio_task_cancel(s->w[rnd(s) % NW], NULL); /* may be done already */
  }
  return 0;
}

static int stress_main(void *arg, void **result) {
  stress_t *s = arg;
  coio_task_t *chaos;
  coio_queue_options_t o;
  void *item;
  int i, spins, quiet, rc;
  (void)result;
  memset(&o, 0, sizeof o);
  o.maxsize = 3;
  CHECK_EQ(coio_lock_new(L, &s->lock), 0);
  CHECK_EQ(coio_semaphore_new(L, 2, &s->sem), 0);
  CHECK_EQ(coio_queue_new(L, &o, &s->q), 0);
  CHECK_EQ(coio_condition_new(L, NULL, &s->cond), 0);
  s->running = NW;
  for (i = 0; i < NW; i++)
    CHECK((s->w[i] = spawn(stress_worker, s)) != NULL);
  CHECK((chaos = spawn(stress_chaos, s)) != NULL);
  CHECK_EQ(join(chaos), 0);
  /* No more cancels. Wait until every worker has finished or waits in the
   * queue or on the condition, quiet for three iterations in a row (a
   * wake-up in flight has been acted on by then). */
  for (spins = quiet = 0; quiet < 3 && spins < 100000; spins++) {
    CHECK_EQ(yield(1), 0);
    quiet = s->running == 0 ? quiet + 1 : 0;
  }
  CHECK_EQ(quiet, 3);
  /* A getter waiting means nothing to get, a putter waiting means no room:
   * no item or slot was lost. Then the queue's waiters are let go. */
  if (s->in_get > 0)
    CHECK_EQ(coio_queue_qsize(s->q), 0);
  if (s->in_put > 0)
    CHECK_EQ(coio_queue_full(s->q), 1);
  CHECK_EQ(coio_queue_shutdown(s->q, 0), 0);
  for (spins = quiet = 0; quiet < 3 && spins < 100000; spins++) {
    CHECK_EQ(yield(1), 0);
    quiet = s->running == 0 && s->in_get == 0 && s->in_put == 0 ? quiet + 1 : 0;
  }
  CHECK_EQ(quiet, 3);
  /* A consumer still waiting means the counter is 0: nothing was lost. */
  CHECK_EQ(coio_condition_acquire(s->cond), 0);
  CHECK_EQ(s->produced, s->consumed + s->avail);
  if (s->avail > 0) {
    int finished = 0;
    for (i = 0; i < NW; i++)
      finished += coio_future_done(s->w[i]);
    CHECK_EQ(finished, NW);
  }
  s->cdone = 1;
  CHECK_EQ(coio_condition_notify_all(s->cond), 0);
  CHECK_EQ(coio_condition_release(s->cond), 0);
  for (i = 0; i < NW; i++) {
    rc = join(s->w[i]);
    CHECK(rc == 0 || rc == COIO_ECANCELED);
  }
  while (coio_queue_get_nowait(s->q, &item) == 0) {
    CHECK(s->put_ok[NUM(item)] && !s->got[NUM(item)]);
    s->got[NUM(item)] = 1;
    s->n_got++;
  }
  CHECK_EQ(s->n_got, s->n_put);
  CHECK(s->n_put > 0 && s->consumed > 0);
  CHECK_EQ(coio_lock_locked(s->lock), 0);
  CHECK_EQ(coio_semaphore_value(s->sem), 2);
  CHECK_EQ(coio_lock_free(s->lock), 0);
  CHECK_EQ(coio_semaphore_free(s->sem), 0);
  CHECK_EQ(coio_queue_free(s->q), 0);
  CHECK_EQ(coio_condition_free(s->cond), 0);
  return 0;
}

static void random_cancellations_lose_nothing(void **state) {
  static stress_t s;
  unsigned seed;
  (void)state;
  for (seed = 1; seed <= 12; seed++) {
    memset(&s, 0, sizeof s);
    s.rng = seed;
    run_main(stress_main, &s);
  }
}

/* ---- bad input ---------------------------------------------------------------------- */

static void null_objects(void **state) {
  coio_loop_t *loop = test_loop_new();
  void *item = ITEM(1);
  size_t idx = 5;
  coio_lock_t *l = (coio_lock_t *)ITEM(1);
  coio_event_t *e = (coio_event_t *)ITEM(1);
  coio_condition_t *c = (coio_condition_t *)ITEM(1);
  coio_semaphore_t *s = (coio_semaphore_t *)ITEM(1);
  coio_queue_t *q = (coio_queue_t *)ITEM(1);
  coio_barrier_t *b = (coio_barrier_t *)ITEM(1);
  (void)state;
  assert_int_equal(coio_lock_new(NULL, &l), COIO_EINVAL);
  assert_null(l);
  assert_int_equal(coio_lock_new(loop, NULL), COIO_EINVAL);
  assert_int_equal(coio_event_new(NULL, &e), COIO_EINVAL);
  assert_null(e);
  assert_int_equal(coio_condition_new(NULL, NULL, &c), COIO_EINVAL);
  assert_null(c);
  assert_int_equal(coio_semaphore_new(NULL, 1, &s), COIO_EINVAL);
  assert_null(s);
  assert_int_equal(coio_bounded_semaphore_new(loop, 1, NULL), COIO_EINVAL);
  assert_int_equal(coio_queue_new(NULL, NULL, &q), COIO_EINVAL);
  assert_null(q);
  assert_int_equal(coio_barrier_new(NULL, 2, &b), COIO_EINVAL);
  assert_null(b);
  assert_int_equal(coio_barrier_new(loop, 0, &b), COIO_EINVAL);

  assert_int_equal(coio_lock_free(NULL), 0);
  assert_int_equal(coio_lock_acquire(NULL), COIO_EINVAL);
  assert_int_equal(coio_lock_release(NULL), COIO_EINVAL);
  assert_int_equal(coio_lock_locked(NULL), 0);
  assert_int_equal(coio_event_free(NULL), 0);
  assert_int_equal(coio_event_set(NULL), COIO_EINVAL);
  assert_int_equal(coio_event_clear(NULL), COIO_EINVAL);
  assert_int_equal(coio_event_is_set(NULL), 0);
  assert_int_equal(coio_event_wait(NULL), COIO_EINVAL);
  assert_int_equal(coio_condition_free(NULL), 0);
  assert_null(coio_condition_lock(NULL));
  assert_int_equal(coio_condition_acquire(NULL), COIO_EINVAL);
  assert_int_equal(coio_condition_release(NULL), COIO_EINVAL);
  assert_int_equal(coio_condition_locked(NULL), 0);
  assert_int_equal(coio_condition_wait(NULL), COIO_EINVAL);
  assert_int_equal(coio_condition_wait_for(NULL, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_condition_notify(NULL, 1), COIO_EINVAL);
  assert_int_equal(coio_condition_notify_all(NULL), COIO_EINVAL);
  assert_int_equal(coio_semaphore_free(NULL), 0);
  assert_int_equal(coio_semaphore_acquire(NULL), COIO_EINVAL);
  assert_int_equal(coio_semaphore_release(NULL), COIO_EINVAL);
  assert_int_equal(coio_semaphore_locked(NULL), 0);
  assert_int_equal(coio_semaphore_value(NULL), 0);
  assert_int_equal(coio_queue_free(NULL), 0);
  assert_int_equal(coio_queue_put(NULL, item), COIO_EINVAL);
  assert_int_equal(coio_queue_put_priority(NULL, item, 1), COIO_EINVAL);
  assert_int_equal(coio_queue_put_nowait(NULL, item), COIO_EINVAL);
  assert_int_equal(coio_queue_put_nowait_priority(NULL, item, 1), COIO_EINVAL);
  assert_int_equal(coio_queue_get(NULL, &item), COIO_EINVAL);
  assert_null(item);
  item = ITEM(1);
  assert_int_equal(coio_queue_get_nowait(NULL, &item), COIO_EINVAL);
  assert_null(item);
  assert_int_equal(coio_queue_qsize(NULL), 0);
  assert_int_equal(coio_queue_maxsize(NULL), 0);
  assert_int_equal(coio_queue_empty(NULL), 0);
  assert_int_equal(coio_queue_full(NULL), 0);
  assert_int_equal(coio_queue_task_done(NULL), COIO_EINVAL);
  assert_int_equal(coio_queue_join(NULL), COIO_EINVAL);
  assert_int_equal(coio_queue_shutdown(NULL, 0), COIO_EINVAL);
  assert_int_equal(coio_queue_is_shutdown(NULL), 0);
  assert_int_equal(coio_barrier_free(NULL), 0);
  assert_int_equal(coio_barrier_wait(NULL, &idx), COIO_EINVAL);
  assert_int_equal(idx, 0);
  assert_int_equal(coio_barrier_reset(NULL), COIO_EINVAL);
  assert_int_equal(coio_barrier_abort(NULL), COIO_EINVAL);
  assert_int_equal(coio_barrier_parties(NULL), 0);
  assert_int_equal(coio_barrier_n_waiting(NULL), 0);
  assert_int_equal(coio_barrier_broken(NULL), 0);
  /* a queue needs somewhere to put the item */
  assert_int_equal(coio_queue_new(loop, NULL, &q), 0);
  assert_int_equal(coio_queue_get_nowait(q, NULL), COIO_EINVAL);
  assert_int_equal(coio_queue_get(q, NULL), COIO_EINVAL);
  assert_int_equal(coio_queue_free(q), 0);
  test_loop_free(loop);
}

/* The awaiting calls outside a task: COIO_ENOTASK; the others work. */
static void outside_a_task(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_lock_t *l;
  coio_event_t *e;
  coio_condition_t *c;
  coio_semaphore_t *s;
  coio_queue_t *q;
  coio_barrier_t *b;
  void *item;
  (void)state;
  assert_int_equal(coio_lock_new(loop, &l), 0);
  assert_int_equal(coio_event_new(loop, &e), 0);
  assert_int_equal(coio_condition_new(loop, NULL, &c), 0);
  assert_int_equal(coio_semaphore_new(loop, 1, &s), 0);
  assert_int_equal(coio_queue_new(loop, NULL, &q), 0);
  assert_int_equal(coio_barrier_new(loop, 1, &b), 0);
  assert_int_equal(coio_lock_acquire(l), COIO_ENOTASK);
  assert_int_equal(coio_lock_locked(l), 0);
  assert_int_equal(coio_event_wait(e), COIO_ENOTASK);
  assert_int_equal(coio_event_set(e), 0);
  assert_int_equal(coio_event_wait(e), COIO_ENOTASK); /* even when set */
  assert_int_equal(coio_condition_acquire(c), COIO_ENOTASK);
  assert_int_equal(coio_condition_wait(c), COIO_ENOTASK);
  assert_int_equal(coio_condition_wait_for(c, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_semaphore_acquire(s), COIO_ENOTASK);
  assert_int_equal(coio_semaphore_value(s), 1);
  assert_int_equal(coio_semaphore_release(s), 0);
  assert_int_equal(coio_queue_put(q, ITEM(1)), COIO_ENOTASK);
  assert_int_equal(coio_queue_get(q, &item), COIO_ENOTASK);
  assert_int_equal(coio_queue_join(q), COIO_ENOTASK);
  assert_int_equal(coio_queue_put_nowait(q, ITEM(1)), 0);
  assert_int_equal(coio_queue_get_nowait(q, &item), 0);
  assert_int_equal(coio_queue_task_done(q), 0);
  assert_int_equal(coio_barrier_wait(b, NULL), COIO_ENOTASK);
  assert_int_equal(coio_barrier_reset(b), 0);
  assert_int_equal(coio_lock_free(l), 0);
  assert_int_equal(coio_event_free(e), 0);
  assert_int_equal(coio_condition_free(c), 0);
  assert_int_equal(coio_semaphore_free(s), 0);
  assert_int_equal(coio_queue_free(q), 0);
  assert_int_equal(coio_barrier_free(b), 0);
  test_loop_free(loop);
}

typedef struct foreign {
  coio_lock_t *l;
  coio_event_t *e;
  coio_condition_t *c;
  coio_semaphore_t *s;
  coio_queue_t *q;
  coio_barrier_t *b;
} foreign_t;

static int use_foreign(void *arg, void **result) {
  foreign_t *f = arg;
  void *item;
  (void)result;
  CHECK_EQ(coio_lock_acquire(f->l), COIO_EINVAL);
  CHECK_EQ(coio_event_wait(f->e), COIO_EINVAL);
  CHECK_EQ(coio_condition_wait(f->c), COIO_EINVAL);
  CHECK_EQ(coio_semaphore_acquire(f->s), COIO_EINVAL);
  CHECK_EQ(coio_queue_put(f->q, ITEM(1)), COIO_EINVAL);
  CHECK_EQ(coio_queue_get(f->q, &item), COIO_EINVAL);
  CHECK_EQ(coio_queue_join(f->q), COIO_EINVAL);
  CHECK_EQ(coio_barrier_wait(f->b, NULL), COIO_EINVAL);
  CHECK_EQ(coio_lock_locked(f->l), 0);
  CHECK_EQ(coio_semaphore_value(f->s), 1);
  return 0;
}

/* Objects of one loop awaited from a task of another: COIO_EINVAL. */
static void objects_of_another_loop(void **state) {
  coio_loop_t *a;
  coio_lock_t *la;
  coio_condition_t *c;
  foreign_t f;
  (void)state;
  a = test_loop_new();
  assert_int_equal(coio_lock_new(a, &f.l), 0);
  assert_int_equal(coio_event_new(a, &f.e), 0);
  assert_int_equal(coio_condition_new(a, NULL, &f.c), 0);
  assert_int_equal(coio_semaphore_new(a, 1, &f.s), 0);
  assert_int_equal(coio_queue_new(a, NULL, &f.q), 0);
  assert_int_equal(coio_barrier_new(a, 1, &f.b), 0);
  run_main(use_foreign, &f);
  /* a condition cannot use a lock of another loop */
  L = test_loop_new();
  assert_int_equal(coio_lock_new(a, &la), 0);
  c = (coio_condition_t *)ITEM(1);
  assert_int_equal(coio_condition_new(L, la, &c), COIO_EINVAL);
  assert_null(c);
  assert_int_equal(coio_lock_free(la), 0);
  test_loop_free(L);
  L = NULL;
  assert_int_equal(coio_lock_free(f.l), 0);
  assert_int_equal(coio_event_free(f.e), 0);
  assert_int_equal(coio_condition_free(f.c), 0);
  assert_int_equal(coio_semaphore_free(f.s), 0);
  assert_int_equal(coio_queue_free(f.q), 0);
  assert_int_equal(coio_barrier_free(f.b), 0);
  test_loop_free(a);
}

/* After the loop closed: new and every call but the queries and free give
 * COIO_ECLOSED; free works (and drops a queue's items). */
static void calls_after_the_loop_closed(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_lock_t *l;
  coio_event_t *e;
  coio_condition_t *c;
  coio_semaphore_t *s;
  coio_queue_t *q;
  coio_queue_options_t o;
  coio_barrier_t *b;
  void *item;
  (void)state;
  dropped = 0;
  memset(&o, 0, sizeof o);
  o.item_dtor = count_drop;
  assert_int_equal(coio_lock_new(loop, &l), 0);
  assert_int_equal(coio_event_new(loop, &e), 0);
  assert_int_equal(coio_condition_new(loop, NULL, &c), 0);
  assert_int_equal(coio_semaphore_new(loop, 1, &s), 0);
  assert_int_equal(coio_queue_new(loop, &o, &q), 0);
  assert_int_equal(coio_barrier_new(loop, 2, &b), 0);
  assert_int_equal(coio_queue_put_nowait(q, ITEM(1)), 0);
  assert_int_equal(coio_loop_close(loop), 0);
  {
    coio_lock_t *l2 = l;
    coio_event_t *e2 = e;
    coio_condition_t *c2 = c;
    coio_semaphore_t *s2 = s;
    coio_queue_t *q2 = q;
    coio_barrier_t *b2 = b;
    assert_int_equal(coio_lock_new(loop, &l2), COIO_ECLOSED);
    assert_null(l2);
    assert_int_equal(coio_event_new(loop, &e2), COIO_ECLOSED);
    assert_null(e2);
    assert_int_equal(coio_condition_new(loop, NULL, &c2), COIO_ECLOSED);
    assert_null(c2);
    assert_int_equal(coio_semaphore_new(loop, 1, &s2), COIO_ECLOSED);
    assert_null(s2);
    assert_int_equal(coio_queue_new(loop, NULL, &q2), COIO_ECLOSED);
    assert_null(q2);
    assert_int_equal(coio_barrier_new(loop, 2, &b2), COIO_ECLOSED);
    assert_null(b2);
  }
  assert_int_equal(coio_lock_acquire(l), COIO_ECLOSED);
  assert_int_equal(coio_lock_release(l), COIO_ECLOSED);
  assert_int_equal(coio_event_set(e), COIO_ECLOSED);
  assert_int_equal(coio_event_clear(e), COIO_ECLOSED);
  assert_int_equal(coio_event_wait(e), COIO_ECLOSED);
  assert_int_equal(coio_condition_wait(c), COIO_ECLOSED);
  assert_int_equal(coio_condition_notify(c, 1), COIO_ECLOSED);
  assert_int_equal(coio_condition_notify_all(c), COIO_ECLOSED);
  assert_int_equal(coio_semaphore_acquire(s), COIO_ECLOSED);
  assert_int_equal(coio_semaphore_release(s), COIO_ECLOSED);
  assert_int_equal(coio_queue_put(q, ITEM(2)), COIO_ECLOSED);
  assert_int_equal(coio_queue_put_nowait(q, ITEM(2)), COIO_ECLOSED);
  assert_int_equal(coio_queue_get(q, &item), COIO_ECLOSED);
  assert_int_equal(coio_queue_get_nowait(q, &item), COIO_ECLOSED);
  assert_int_equal(coio_queue_task_done(q), COIO_ECLOSED);
  assert_int_equal(coio_queue_join(q), COIO_ECLOSED);
  assert_int_equal(coio_queue_shutdown(q, 1), COIO_ECLOSED);
  assert_int_equal(coio_barrier_wait(b, NULL), COIO_ECLOSED);
  assert_int_equal(coio_barrier_reset(b), COIO_ECLOSED);
  assert_int_equal(coio_barrier_abort(b), COIO_ECLOSED);
  /* queries still answer */
  assert_int_equal(coio_semaphore_value(s), 1);
  assert_int_equal(coio_queue_qsize(q), 1);
  assert_int_equal(coio_barrier_parties(b), 2);
  /* free works, and drops the queue's items */
  assert_int_equal(coio_lock_free(l), 0);
  assert_int_equal(coio_event_free(e), 0);
  assert_int_equal(coio_condition_free(c), 0);
  assert_int_equal(coio_semaphore_free(s), 0);
  assert_int_equal(coio_queue_free(q), 0);
  assert_int_equal(dropped, 1);
  assert_int_equal(coio_barrier_free(b), 0);
  test_loop_free(loop);
}

/* Objects made inside coio_run can be freed after it returned (the loop
 * is gone then: free does not touch it). */
typedef struct outlive {
  coio_queue_t *q;
  coio_lock_t *l;
  coio_semaphore_t *s;
} outlive_t;

static int outlive_child(void *arg, void **result) {
  outlive_t *o = arg;
  void *item;
  (void)result;
  /* left blocked: coio_run cancels it after main returns */
  if (coio_lock_acquire(o->l) != 0)
    return COIO_ECANCELED;
  return coio_queue_get(o->q, &item);
}

static int outlive_main(void *arg, void **result) {
  outlive_t *o = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  (void)result;
  if (coio_queue_new(loop, NULL, &o->q) != 0 || coio_lock_new(loop, &o->l) != 0 ||
      coio_semaphore_new(loop, 0, &o->s) != 0)
    return COIO_ENOMEM;
  if (coio_task_spawn(loop, outlive_child, o, NULL, NULL) != 0)
    return COIO_ENOMEM;
  return coio_sleep(0);
}

static void objects_outlive_coio_run(void **state) {
  outlive_t o;
  coio_loop_options_t opts;
  (void)state;
  memset(&o, 0, sizeof o);
  memset(&opts, 0, sizeof opts);
  opts.backend = coio_test_backend;
  assert_int_equal(coio_run(outlive_main, &o, &opts, NULL), 0);
  assert_int_equal(coio_queue_free(o.q), 0);
  assert_int_equal(coio_lock_free(o.l), 0);
  assert_int_equal(coio_semaphore_free(o.s), 0);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lock_basics),
      cmocka_unit_test(lock_is_fifo_without_barging),
      cmocka_unit_test(lock_cancelled_after_handover_passes_it_on),
      cmocka_unit_test(lock_cancelled_before_release_is_skipped),
      cmocka_unit_test(lock_cancelled_waiter_leaves_the_line),
      cmocka_unit_test(event_wakes_every_waiter),
      cmocka_unit_test(condition_notifies_in_order),
      cmocka_unit_test(condition_cancelled_wait_reacquires_the_lock),
      cmocka_unit_test(condition_notified_then_cancelled_passes_the_notification),
      cmocka_unit_test(condition_cancelled_while_reacquiring_passes_the_notification),
      cmocka_unit_test(condition_wait_for_and_shared_locks),
      cmocka_unit_test(semaphore_is_fifo_without_barging),
      cmocka_unit_test(semaphore_cancelled_after_grant_passes_the_permit),
      cmocka_unit_test(semaphore_cancelled_before_release_is_skipped),
      cmocka_unit_test(bounded_semaphore_refuses_over_release),
      cmocka_unit_test(queue_fifo_lifo_priority_order),
      cmocka_unit_test(queue_nowait_calls_and_bounds),
      cmocka_unit_test(queue_waiters_are_served_in_order),
      cmocka_unit_test(queue_woken_waiters_keep_their_item_or_slot),
      cmocka_unit_test(queue_item_for_a_cancelled_getter_goes_to_the_next),
      cmocka_unit_test(queue_getter_cancelled_before_the_put_is_skipped),
      cmocka_unit_test(queue_slot_for_a_cancelled_putter_goes_to_the_next),
      cmocka_unit_test(queue_putter_cancelled_before_the_get_is_skipped),
      cmocka_unit_test(queue_task_done_and_join),
      cmocka_unit_test(queue_shutdown_lets_the_items_left_be_taken),
      cmocka_unit_test(queue_shutdown_immediate_drops_the_items),
      cmocka_unit_test(barrier_releases_full_rounds),
      cmocka_unit_test(barrier_blocks_arrivals_while_draining),
      cmocka_unit_test(barrier_abort_and_reset),
      cmocka_unit_test(barrier_cancelled_waiter_leaves_the_round),
      cmocka_unit_test(random_cancellations_lose_nothing),
      cmocka_unit_test(null_objects),
      cmocka_unit_test(outside_a_task),
      cmocka_unit_test(objects_of_another_loop),
      cmocka_unit_test(calls_after_the_loop_closed),
      cmocka_unit_test(objects_outlive_coio_run),
  };
  return test_main(argc, argv, "sync", tests, sizeof tests / sizeof tests[0]);
}
