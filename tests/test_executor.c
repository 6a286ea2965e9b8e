/* tests/test_executor.c - the thread pool (run_in_executor), the default
 * executor and its shutdown, and run_coroutine_threadsafe (coio_cfuture).
 *
 * Threads are synchronised with atomics ("gates" a job waits on, opened by
 * the test) and with the loop's own callbacks; no test sleeps for a fixed
 * time to let another thread get somewhere. Every wait is bounded: loops
 * run under a watchdog timer, gates give up after 30 s, cfuture waits
 * have timeouts. Runs once per backend. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <windows.h>
#endif

#include "harness.h"

#define BOUND 30.0 /* seconds: the watchdog of every wait */

/* ---- helpers ----------------------------------------------------------- */

/* A monotonic clock in seconds for any thread (the loop's clock is for the
 * loop's thread). */
static double now_s(void) {
#ifdef _WIN32
  LARGE_INTEGER c, f;
  QueryPerformanceCounter(&c);
  QueryPerformanceFrequency(&f);
  return (double)c.QuadPart / (double)f.QuadPart;
#else
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

/* A gate a job waits at until the test opens it (or 30 s pass). */
typedef struct gate {
  atomic_int open;
} gate_t;

static void gate_init(gate_t *g) { atomic_store(&g->open, 0); }
static void gate_open(gate_t *g) { atomic_store(&g->open, 1); }

/* 1 when the gate opened, 0 if the bound passed first. */
static int gate_wait(gate_t *g) {
  time_t start = time(NULL);
  while (!atomic_load(&g->open)) {
    if (time(NULL) - start > (time_t)BOUND)
      return 0;
    test_yield();
  }
  return 1;
}

static void stop_when_done(coio_future_t *fut, void *arg) {
  (void)arg;
  coio_loop_stop(coio_future_loop(fut));
}

/* Runs the loop until fut is done, at most BOUND seconds; 0 if it is. */
static int run_until_done(coio_loop_t *loop, coio_future_t *fut) {
  if (!coio_future_done(fut)) {
    assert_int_equal(coio_future_add_done_callback(fut, stop_when_done, NULL), 0);
    test_run_bounded(loop, BOUND);
    coio_future_remove_done_callback(fut, stop_when_done, NULL);
  }
  return coio_future_done(fut) ? 0 : -1;
}

/* Lets the loop deliver what other threads posted: one pass. */
static void run_once(coio_loop_t *loop) {
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, BOUND), 0);
}

/* Runs the loop pass by pass until cf is done (at most 100 passes). */
static int run_until_cf_done(coio_loop_t *loop, coio_cfuture_t *cf) {
  int i;
  for (i = 0; i < 100 && !coio_cfuture_done(cf); i++)
    run_once(loop);
  return coio_cfuture_done(cf) ? 0 : -1;
}

static atomic_int results_freed;
static atomic_int args_freed;

static void count_free(void *p) {
  free(p);
  atomic_fetch_add(&results_freed, 1);
}

static void count_arg(void *p) {
  (void)p;
  atomic_fetch_add(&args_freed, 1);
}

static void reset_counts(void) {
  atomic_store(&results_freed, 0);
  atomic_store(&args_freed, 0);
}

static int *new_int(int v) {
  int *p = malloc(sizeof *p);
  if (p)
    *p = v;
  return p;
}

/* ---- results and errors ---------------------------------------------------- */

static _Thread_local int thread_marker;

typedef struct where {
  int *job_thread;   /* &thread_marker as seen by the job */
  int *done_thread;  /* ... and by the done callback */
} where_t;

static int double_it(void *arg, void **result) {
  where_t *w = arg;
  w->job_thread = &thread_marker;
  *result = new_int(21 * 2);
  return *result ? 0 : COIO_ENOMEM;
}

static void note_done_thread(coio_future_t *fut, void *arg) {
  (void)fut;
  ((where_t *)arg)->done_thread = &thread_marker;
}

static void a_result_arrives_on_the_loop_thread(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_job_options_t o;
  coio_future_t *f;
  where_t w = {NULL, NULL};
  void *v;
  (void)state;
  reset_counts();
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  o.arg_dtor = count_arg;
  assert_int_equal(coio_run_in_executor(loop, NULL, double_it, &w, &o, &f), 0);
  assert_int_equal(coio_future_add_done_callback(f, note_done_thread, &w), 0);
  assert_int_equal(run_until_done(loop, f), 0);
  assert_int_equal(coio_future_result(f, &v), 0);
  assert_int_equal(*(int *)v, 42);
  run_once(loop); /* the done callbacks */
  assert_ptr_not_equal(w.job_thread, &thread_marker); /* ran on a pool thread */
  assert_ptr_equal(w.done_thread, &thread_marker);    /* completed on ours */
  assert_int_equal(atomic_load(&results_freed), 0);
  coio_future_unref(f); /* the future owned the result */
  assert_int_equal(atomic_load(&results_freed), 1);
  test_loop_free(loop);
  assert_int_equal(atomic_load(&args_freed), 1);
}

static int fail_eio(void *arg, void **result) {
  (void)arg;
  *result = new_int(1); /* a failed job's result is freed, not delivered */
  return COIO_EIO;
}

static int return_positive(void *arg, void **result) {
  (void)arg;
  (void)result;
  return 7;
}

static void errors_are_delivered_and_failed_results_freed(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_job_options_t o;
  coio_future_t *f1, *f2;
  void *v = &v;
  (void)state;
  reset_counts();
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  assert_int_equal(coio_run_in_executor(loop, NULL, fail_eio, NULL, &o, &f1), 0);
  assert_int_equal(coio_run_in_executor(loop, NULL, return_positive, NULL, NULL, &f2), 0);
  assert_int_equal(run_until_done(loop, f1), 0);
  assert_int_equal(run_until_done(loop, f2), 0);
  assert_int_equal(coio_future_result(f1, &v), COIO_EIO);
  assert_null(v);
  assert_int_equal(coio_future_result(f2, NULL), COIO_EINVAL);
  assert_int_equal(atomic_load(&results_freed), 1);
  coio_future_unref(f1);
  coio_future_unref(f2);
  test_loop_free(loop);
}

/* A task awaits jobs: the usual way to use the pool. */
static int square(void *arg, void **result) {
  intptr_t n = (intptr_t)arg;
  *result = (void *)(n * n);
  return 0;
}

static int task_awaits_jobs(void *arg, void **result) {
  coio_loop_t *loop = arg;
  intptr_t i, sum = 0;
  (void)result;
  for (i = 1; i <= 5; i++) {
    coio_future_t *f;
    void *v;
    int rc = coio_run_in_executor(loop, NULL, square, (void *)i, NULL, &f);
    if (rc != 0)
      return rc;
    rc = coio_await(f);
    if (rc == 0)
      rc = coio_future_result(f, &v);
    coio_future_unref(f);
    if (rc != 0)
      return rc;
    sum += (intptr_t)v;
  }
  *result = (void *)sum;
  return 0;
}

static void a_task_awaits_jobs_in_turn(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_t *t;
  void *v;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, task_awaits_jobs, loop, NULL, &t), 0);
  assert_int_equal(run_until_done(loop, t), 0);
  assert_int_equal(coio_future_result(t, &v), 0);
  assert_int_equal((intptr_t)v, 1 + 4 + 9 + 16 + 25);
  coio_future_unref(t);
  test_loop_free(loop);
}

/* ---- many jobs, a small pool ------------------------------------------------- */

#define POOL 3
#define MANY 60

static atomic_int running_now, running_max;

static int counted_job(void *arg, void **result) {
  intptr_t i = (intptr_t)arg;
  int now = atomic_fetch_add(&running_now, 1) + 1, max = atomic_load(&running_max);
  int spin;
  while (now > max && !atomic_compare_exchange_weak(&running_max, &max, now))
    ;
  for (spin = 0; spin < 20; spin++) /* overlap a little with the others */
    test_yield();
  atomic_fetch_sub(&running_now, 1);
  *result = (void *)(i * 3);
  return 0;
}

static void more_jobs_than_threads_all_complete_within_the_limit(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_t *ex;
  coio_future_t *f[MANY], *all;
  intptr_t i;
  (void)state;
  atomic_store(&running_now, 0);
  atomic_store(&running_max, 0);
  assert_int_equal(coio_executor_new(&ex, POOL), 0);
  for (i = 0; i < MANY; i++)
    assert_int_equal(coio_run_in_executor(loop, ex, counted_job, (void *)i, NULL, &f[i]), 0);
  assert_int_equal(coio_gather(loop, f, MANY, 0, &all), 0);
  assert_int_equal(run_until_done(loop, all), 0);
  assert_int_equal(coio_future_result(all, NULL), 0);
  for (i = 0; i < MANY; i++) {
    void *v;
    assert_int_equal(coio_future_result(f[i], &v), 0);
    assert_int_equal((intptr_t)v, i * 3);
    coio_future_unref(f[i]);
  }
  coio_future_unref(all);
  assert_true(atomic_load(&running_max) >= 1);
  assert_true(atomic_load(&running_max) <= POOL);
  print_message("at most %d of %d jobs ran at once\n", atomic_load(&running_max), MANY);
  assert_int_equal(coio_executor_free(ex), 0);
  test_loop_free(loop);
}

static void the_default_executor_size_is_a_limit(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f[MANY], *all;
  intptr_t i;
  (void)state;
  atomic_store(&running_now, 0);
  atomic_store(&running_max, 0);
  assert_int_equal(coio_loop_set_default_executor_size(loop, 2), 0);
  for (i = 0; i < MANY; i++)
    assert_int_equal(coio_run_in_executor(loop, NULL, counted_job, (void *)i, NULL, &f[i]), 0);
  /* Changing the limit of a live default executor is allowed too. */
  assert_int_equal(coio_loop_set_default_executor_size(loop, 2), 0);
  assert_int_equal(coio_gather(loop, f, MANY, 0, &all), 0);
  assert_int_equal(run_until_done(loop, all), 0);
  assert_int_equal(coio_future_result(all, NULL), 0);
  for (i = 0; i < MANY; i++)
    coio_future_unref(f[i]);
  coio_future_unref(all);
  assert_true(atomic_load(&running_max) <= 2);
  test_loop_free(loop);
}

/* ---- cancellation -------------------------------------------------------------- */

typedef struct blocker {
  gate_t gate;
  atomic_int started, finished;
  atomic_int gate_ok;
  coio_loop_t *loop;
  void (*on_start)(coio_loop_t *loop, void *arg); /* posted to the loop */
  void *on_start_arg;
} blocker_t;

static void blocker_init(blocker_t *b, coio_loop_t *loop) {
  memset(b, 0, sizeof *b);
  gate_init(&b->gate);
  atomic_store(&b->started, 0);
  atomic_store(&b->finished, 0);
  atomic_store(&b->gate_ok, 0);
  b->loop = loop;
}

/* Waits at the gate; result: a new int 7. Give it result_dtor
 * free_result (job_frees) so that the int is freed. */
static int blocking_job(void *arg, void **result) {
  blocker_t *b = arg;
  atomic_fetch_add(&b->started, 1);
  if (b->on_start)
    coio_call_soon_threadsafe(b->loop, b->on_start, b->on_start_arg);
  atomic_store(&b->gate_ok, gate_wait(&b->gate));
  atomic_fetch_add(&b->finished, 1);
  *result = new_int(7);
  return 0;
}

static atomic_int ran_flag;

static const coio_executor_job_options_t job_frees = {count_free, NULL};

static int must_not_run(void *arg, void **result) {
  (void)arg;
  (void)result;
  atomic_store(&ran_flag, 1);
  return 0;
}

static void a_cancelled_queued_job_never_runs(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_t *ex;
  coio_executor_job_options_t o;
  coio_future_t *a, *b;
  blocker_t bl;
  (void)state;
  reset_counts();
  atomic_store(&ran_flag, 0);
  blocker_init(&bl, loop);
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  o.arg_dtor = count_arg;
  assert_int_equal(coio_executor_new(&ex, 1), 0);
  assert_int_equal(coio_run_in_executor(loop, ex, blocking_job, &bl, &o, &a), 0);
  assert_int_equal(coio_run_in_executor(loop, ex, must_not_run, NULL, &o, &b), 0);
  /* The single worker is busy with a (or has not even started): b waits. */
  assert_int_equal(coio_future_cancel(b, "not needed"), 0);
  assert_true(coio_future_cancelled(b));
  assert_int_equal(coio_future_result(b, NULL), COIO_ECANCELED);
  assert_int_equal(coio_future_cancel(b, NULL), COIO_EINVALSTATE);
  gate_open(&bl.gate);
  assert_int_equal(run_until_done(loop, a), 0);
  assert_int_equal(coio_future_result(a, NULL), 0);
  assert_int_equal(coio_executor_free(ex), 0); /* the worker has taken b and let it go */
  assert_int_equal(atomic_load(&ran_flag), 0);
  assert_int_equal(atomic_load(&args_freed), 2); /* arg_dtor for the cancelled job too */
  assert_int_equal(atomic_load(&bl.gate_ok), 1);
  coio_future_unref(a);
  coio_future_unref(b);
  assert_int_equal(atomic_load(&results_freed), 1);
  test_loop_free(loop);
}

typedef struct cancel_running {
  blocker_t bl;
  coio_future_t *fut;
  int cancel_rc;
} cancel_running_t;

/* On the loop, once the job is known to run: cancel its future, then let
 * the job finish. */
static void cancel_then_release(coio_loop_t *loop, void *arg) {
  cancel_running_t *c = arg;
  (void)loop;
  c->cancel_rc = coio_future_cancel(c->fut, NULL);
  gate_open(&c->bl.gate);
}

static void a_running_job_finishes_and_its_result_is_dropped(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_t *ex;
  coio_executor_job_options_t o;
  cancel_running_t c;
  (void)state;
  reset_counts();
  blocker_init(&c.bl, loop);
  c.bl.on_start = cancel_then_release;
  c.bl.on_start_arg = &c;
  c.cancel_rc = 1;
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  assert_int_equal(coio_executor_new(&ex, 2), 0);
  assert_int_equal(coio_run_in_executor(loop, ex, blocking_job, &c.bl, &o, &c.fut), 0);
  assert_int_equal(run_until_done(loop, c.fut), 0);
  assert_int_equal(c.cancel_rc, 0);
  assert_true(coio_future_cancelled(c.fut));
  /* The job runs to its end; once its outcome reached the loop, the result
   * nobody can receive is freed. */
  assert_int_equal(coio_executor_free(ex), 0);
  run_once(loop);
  assert_int_equal(atomic_load(&c.bl.finished), 1);
  assert_int_equal(atomic_load(&results_freed), 1);
  coio_future_unref(c.fut);
  test_loop_free(loop);
}

/* A task awaiting a job is cancelled: the job future is cancelled with it. */
static int await_forever_job(void *arg, void **result) {
  coio_future_t *f = NULL;
  int rc;
  blocker_t *b = arg;
  (void)result;
  rc = coio_run_in_executor(b->loop, NULL, blocking_job, b, &job_frees, &f);
  if (rc != 0)
    return rc;
  rc = coio_await(f);
  coio_future_unref(f);
  return rc;
}

static void cancel_task_cb(coio_loop_t *loop, void *arg) {
  (void)loop;
  coio_task_cancel(arg, NULL);
}

static void cancelling_the_awaiting_task_cancels_the_job_future(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_t *t;
  blocker_t bl;
  (void)state;
  blocker_init(&bl, loop);
  assert_int_equal(coio_task_spawn(loop, await_forever_job, &bl, NULL, &t), 0);
  bl.on_start = cancel_task_cb;
  bl.on_start_arg = t;
  assert_int_equal(run_until_done(loop, t), 0);
  assert_int_equal(coio_future_result(t, NULL), COIO_ECANCELED);
  gate_open(&bl.gate); /* the job itself runs on to its end */
  coio_future_unref(t);
  test_loop_free(loop); /* joins the default executor */
  assert_int_equal(atomic_load(&bl.finished), 1);
}

/* ---- shutdown ------------------------------------------------------------------------ */

#define SHUT_JOBS 4

typedef struct shut {
  coio_executor_t *ex;
  atomic_int entering;
  atomic_int returned;
  int flags;
  int rc;
  int finished_at_return;
  blocker_t *bl;
} shut_t;

static void shutdown_thread(void *arg) {
  shut_t *s = arg;
  atomic_store(&s->entering, 1);
  s->rc = coio_executor_shutdown(s->ex, s->flags);
  s->finished_at_return = atomic_load(&s->bl->finished);
  atomic_store(&s->returned, 1);
}

static void shutdown_waits_for_running_and_queued_jobs(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_job_options_t o;
  coio_future_t *f[SHUT_JOBS], *late;
  test_thread_t *t;
  blocker_t bl;
  shut_t s;
  time_t start;
  int i;
  (void)state;
  reset_counts();
  blocker_init(&bl, loop);
  memset(&s, 0, sizeof s);
  atomic_store(&s.entering, 0);
  atomic_store(&s.returned, 0);
  s.bl = &bl;
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  assert_int_equal(coio_executor_new(&s.ex, 2), 0);
  for (i = 0; i < SHUT_JOBS; i++) /* two run, two wait in the queue */
    assert_int_equal(coio_run_in_executor(loop, s.ex, blocking_job, &bl, &o, &f[i]), 0);
  t = test_thread_start(shutdown_thread, &s);
  start = time(NULL);
  while (!atomic_load(&s.entering) && time(NULL) - start <= (time_t)BOUND)
    test_yield();
  assert_int_equal(atomic_load(&s.returned), 0); /* the gate is still closed */
  gate_open(&bl.gate);
  test_thread_join(t);
  assert_int_equal(s.rc, 0);
  assert_int_equal(s.finished_at_return, SHUT_JOBS); /* all of them, queued ones too */
  /* New work is refused; shutting down again is harmless. */
  assert_int_equal(coio_run_in_executor(loop, s.ex, must_not_run, NULL, NULL, &late), COIO_ESHUTDOWN);
  assert_null(late);
  assert_int_equal(coio_executor_shutdown(s.ex, 0), 0);
  /* The outcomes reach the loop when it runs. */
  for (i = 0; i < SHUT_JOBS; i++) {
    assert_int_equal(run_until_done(loop, f[i]), 0);
    assert_int_equal(coio_future_result(f[i], NULL), 0);
    coio_future_unref(f[i]);
  }
  assert_int_equal(atomic_load(&results_freed), SHUT_JOBS);
  assert_int_equal(coio_executor_free(s.ex), 0);
  test_loop_free(loop);
}

static void shutdown_with_cancel_pending_cancels_the_queue(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_job_options_t o;
  coio_future_t *a, *q[3];
  blocker_t bl;
  shut_t s;
  test_thread_t *t;
  time_t start;
  int i;
  (void)state;
  reset_counts();
  atomic_store(&ran_flag, 0);
  blocker_init(&bl, loop);
  memset(&o, 0, sizeof o);
  o.arg_dtor = count_arg;
  memset(&s, 0, sizeof s);
  atomic_store(&s.entering, 0);
  atomic_store(&s.returned, 0);
  s.bl = &bl;
  s.flags = COIO_EXECUTOR_CANCEL_PENDING;
  assert_int_equal(coio_executor_new(&s.ex, 1), 0);
  assert_int_equal(coio_executor_shutdown(s.ex, 0x100), COIO_EINVAL);
  assert_int_equal(coio_run_in_executor(loop, s.ex, blocking_job, &bl, &job_frees, &a), 0);
  for (i = 0; i < 3; i++)
    assert_int_equal(coio_run_in_executor(loop, s.ex, must_not_run, NULL, &o, &q[i]), 0);
  /* The first job must be running, not queued, when the queue is dropped. */
  start = time(NULL);
  while (!atomic_load(&bl.started) && time(NULL) - start <= (time_t)BOUND)
    test_yield();
  assert_int_equal(atomic_load(&bl.started), 1);
  /* The shutdown drops the queue at once, then waits for the running job:
   * the queued futures end cancelled while it waits. */
  t = test_thread_start(shutdown_thread, &s);
  for (i = 0; i < 3; i++) {
    assert_int_equal(run_until_done(loop, q[i]), 0);
    assert_true(coio_future_cancelled(q[i]));
    coio_future_unref(q[i]);
  }
  assert_int_equal(atomic_load(&s.returned), 0);
  gate_open(&bl.gate);
  test_thread_join(t);
  assert_int_equal(s.rc, 0);
  assert_int_equal(run_until_done(loop, a), 0);
  assert_int_equal(coio_future_result(a, NULL), 0);
  coio_future_unref(a);
  assert_int_equal(atomic_load(&ran_flag), 0);
  assert_int_equal(atomic_load(&args_freed), 3);
  assert_int_equal(coio_executor_free(s.ex), 0);
  test_loop_free(loop);
}

typedef struct async_shut {
  blocker_t bl;
  coio_future_t *shut;
  int ticks;
  int shut_pending_while_blocked;
  int refused;
} async_shut_t;

static void async_shut_tick(coio_loop_t *loop, void *arg) {
  async_shut_t *a = arg;
  coio_future_t *late = NULL;
  if (++a->ticks == 3) {
    /* The loop runs while the pool winds down; new default jobs are refused. */
    a->shut_pending_while_blocked = !coio_future_done(a->shut);
    a->refused = coio_run_in_executor(loop, NULL, must_not_run, NULL, NULL, &late);
    gate_open(&a->bl.gate);
    return;
  }
  coio_call_later(loop, 0.005, async_shut_tick, a, NULL);
}

static void shutdown_default_executor_does_not_block_the_loop(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f[3], *again;
  async_shut_t a;
  int i;
  (void)state;
  atomic_store(&ran_flag, 0);
  memset(&a, 0, sizeof a);
  blocker_init(&a.bl, loop);
  assert_int_equal(coio_loop_set_default_executor_size(loop, 2), 0);
  for (i = 0; i < 3; i++)
    assert_int_equal(coio_run_in_executor(loop, NULL, blocking_job, &a.bl, &job_frees, &f[i]), 0);
  assert_int_equal(coio_loop_shutdown_default_executor(loop, &a.shut), 0);
  assert_false(coio_future_done(a.shut));
  assert_int_equal(coio_call_later(loop, 0.005, async_shut_tick, &a, NULL), 0);
  assert_int_equal(run_until_done(loop, a.shut), 0);
  assert_int_equal(coio_future_result(a.shut, NULL), 0);
  assert_int_equal(a.ticks, 3);
  assert_int_equal(a.shut_pending_while_blocked, 1);
  assert_int_equal(a.refused, COIO_ESHUTDOWN);
  /* Every job's outcome was delivered before the shutdown's. */
  for (i = 0; i < 3; i++) {
    assert_true(coio_future_done(f[i]));
    assert_int_equal(coio_future_result(f[i], NULL), 0);
    coio_future_unref(f[i]);
  }
  /* Asking again gives the same, done, future. */
  assert_int_equal(coio_loop_shutdown_default_executor(loop, &again), 0);
  assert_ptr_equal(again, a.shut);
  coio_future_unref(again);
  coio_future_unref(a.shut);
  assert_int_equal(atomic_load(&a.bl.finished), 3);
  test_loop_free(loop);
}

static void shutdown_default_executor_without_one_is_done_at_once(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f, *late = NULL;
  (void)state;
  assert_int_equal(coio_loop_shutdown_default_executor(loop, &f), 0);
  assert_true(coio_future_done(f));
  assert_int_equal(coio_future_result(f, NULL), 0);
  assert_int_equal(coio_run_in_executor(loop, NULL, must_not_run, NULL, NULL, &late),
                   COIO_ESHUTDOWN);
  coio_future_unref(f);
  test_loop_free(loop);
}

/* ---- the loop stays responsive -------------------------------------------------- */

typedef struct responsive {
  blocker_t bl;
  int ticks;
  int ticks_at_done;
  coio_future_t *job;
} responsive_t;

static void tick(coio_loop_t *loop, void *arg) {
  responsive_t *r = arg;
  if (++r->ticks == 5) {
    gate_open(&r->bl.gate); /* the timer ran 5 times while the job blocked */
    return;
  }
  coio_call_later(loop, 0.01, tick, r, NULL);
}

static void note_ticks(coio_future_t *fut, void *arg) {
  responsive_t *r = arg;
  (void)fut;
  r->ticks_at_done = r->ticks;
  coio_loop_stop(coio_future_loop(fut));
}

static void timers_fire_while_a_job_blocks(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_job_options_t o;
  responsive_t r;
  (void)state;
  reset_counts();
  memset(&r, 0, sizeof r);
  blocker_init(&r.bl, loop);
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  assert_int_equal(coio_run_in_executor(loop, NULL, blocking_job, &r.bl, &o, &r.job), 0);
  assert_int_equal(coio_future_add_done_callback(r.job, note_ticks, &r), 0);
  assert_int_equal(coio_call_later(loop, 0.01, tick, &r, NULL), 0);
  assert_int_equal(test_run_bounded(loop, BOUND), 0);
  assert_int_equal(coio_future_result(r.job, NULL), 0);
  assert_int_equal(r.ticks_at_done, 5);
  assert_int_equal(atomic_load(&r.bl.gate_ok), 1);
  coio_future_unref(r.job);
  assert_int_equal(atomic_load(&results_freed), 1);
  test_loop_free(loop);
}

/* ---- run_coroutine_threadsafe ------------------------------------------------------ */

#define SUBMITTERS 4
#define PER_THREAD 8

typedef struct submitter {
  coio_loop_t *loop;
  int id;
  int errors;   /* asserts cannot run on other threads: counted */
  int sum;
  atomic_int *finished;
} submitter_t;

static int times_ten(void *arg, void **result) {
  intptr_t n = (intptr_t)arg;
  int rc = coio_sleep(0.001); /* suspends once: a real task */
  if (rc != 0)
    return rc;
  *result = new_int((int)(n * 10));
  return *result ? 0 : COIO_ENOMEM;
}

static void submitter_main(void *arg) {
  submitter_t *s = arg;
  coio_cfuture_t *cf[PER_THREAD];
  coio_task_options_t o;
  int i;
  memset(&o, 0, sizeof o);
  o.name = "from-a-thread";
  o.result_dtor = count_free;
  for (i = 0; i < PER_THREAD; i++)
    if (coio_run_threadsafe(s->loop, times_ten, (void *)(intptr_t)(s->id * 100 + i), &o,
                            &cf[i]) != 0) {
      s->errors++;
      cf[i] = NULL;
    }
  for (i = 0; i < PER_THREAD; i++) {
    void *v = NULL;
    if (!cf[i])
      continue;
    if (coio_cfuture_wait(cf[i], BOUND, &v) != 0 || !v || !coio_cfuture_done(cf[i]))
      s->errors++;
    else
      s->sum += *(int *)v;
    coio_cfuture_free(cf[i]);
  }
  if (atomic_fetch_add(s->finished, 1) + 1 == SUBMITTERS)
    coio_call_soon_threadsafe(s->loop, test_stop_cb, NULL);
}

static void tasks_submitted_from_several_threads_deliver_results(void **state) {
  coio_loop_t *loop = test_loop_new();
  submitter_t s[SUBMITTERS];
  test_thread_t *t[SUBMITTERS];
  atomic_int finished;
  int i, j;
  (void)state;
  reset_counts();
  atomic_store(&finished, 0);
  for (i = 0; i < SUBMITTERS; i++) {
    memset(&s[i], 0, sizeof s[i]);
    s[i].loop = loop;
    s[i].id = i;
    s[i].finished = &finished;
    t[i] = test_thread_start(submitter_main, &s[i]);
  }
  assert_int_equal(test_run_bounded(loop, BOUND), 0);
  for (i = 0; i < SUBMITTERS; i++) {
    int want = 0;
    test_thread_join(t[i]);
    for (j = 0; j < PER_THREAD; j++)
      want += (i * 100 + j) * 10;
    assert_int_equal(s[i].errors, 0);
    assert_int_equal(s[i].sum, want);
  }
  assert_int_equal(atomic_load(&results_freed), SUBMITTERS * PER_THREAD);
  test_loop_free(loop);
}

typedef struct waiter {
  coio_loop_t *loop;
  coio_future_t *gate; /* a future of the loop the task awaits */
  int rc_zero, rc_short, rc_final;
  intptr_t value;
  int cancel_rc, cancel_again_rc;
  double waited_short;
} waiter_t;

static int await_gate(void *arg, void **result) {
  waiter_t *w = arg;
  int rc = coio_await(w->gate);
  if (rc != 0)
    return rc;
  *result = (void *)(intptr_t)99;
  return 0;
}

static void resolve_gate(coio_loop_t *loop, void *arg) {
  (void)loop;
  coio_future_set_result(((waiter_t *)arg)->gate, NULL, NULL);
}

static void timeout_thread(void *arg) {
  waiter_t *w = arg;
  coio_cfuture_t *cf;
  void *v = NULL;
  double t0;
  if (coio_run_threadsafe(w->loop, await_gate, w, NULL, &cf) != 0) {
    w->rc_final = -1000;
    coio_call_soon_threadsafe(w->loop, test_stop_cb, NULL);
    return;
  }
  w->rc_zero = coio_cfuture_wait(cf, 0, &v);
  t0 = now_s();
  w->rc_short = coio_cfuture_wait(cf, 0.05, &v);
  w->waited_short = now_s() - t0;
  coio_call_soon_threadsafe(w->loop, resolve_gate, w);
  w->rc_final = coio_cfuture_wait(cf, BOUND, &v);
  w->value = (intptr_t)v;
  coio_cfuture_free(cf);
  coio_call_soon_threadsafe(w->loop, test_stop_cb, NULL);
}

static void cfuture_wait_times_out_then_gets_the_result(void **state) {
  coio_loop_t *loop = test_loop_new();
  test_thread_t *t;
  waiter_t w;
  (void)state;
  memset(&w, 0, sizeof w);
  w.loop = loop;
  assert_int_equal(coio_future_new(loop, &w.gate), 0);
  t = test_thread_start(timeout_thread, &w);
  assert_int_equal(test_run_bounded(loop, BOUND), 0);
  test_thread_join(t);
  assert_int_equal(w.rc_zero, COIO_ETIMEDOUT);
  assert_int_equal(w.rc_short, COIO_ETIMEDOUT);
  assert_true(w.waited_short >= 0.05 - 1e-6); /* never early */
  assert_int_equal(w.rc_final, 0);
  assert_int_equal(w.value, 99);
  coio_future_unref(w.gate);
  test_loop_free(loop);
}

static void cancel_thread(void *arg) {
  waiter_t *w = arg;
  coio_cfuture_t *cf;
  if (coio_run_threadsafe(w->loop, await_gate, w, NULL, &cf) != 0) {
    w->rc_final = -1000;
    coio_call_soon_threadsafe(w->loop, test_stop_cb, NULL);
    return;
  }
  w->rc_short = coio_cfuture_wait(cf, 0.01, NULL);
  w->cancel_rc = coio_cfuture_cancel(cf);
  w->rc_final = coio_cfuture_wait(cf, BOUND, NULL);
  w->cancel_again_rc = coio_cfuture_cancel(cf);
  coio_cfuture_free(cf);
  coio_call_soon_threadsafe(w->loop, test_stop_cb, NULL);
}

static void cfuture_cancel_cancels_the_task(void **state) {
  coio_loop_t *loop = test_loop_new();
  test_thread_t *t;
  waiter_t w;
  (void)state;
  memset(&w, 0, sizeof w);
  w.loop = loop;
  assert_int_equal(coio_future_new(loop, &w.gate), 0);
  t = test_thread_start(cancel_thread, &w);
  assert_int_equal(test_run_bounded(loop, BOUND), 0);
  test_thread_join(t);
  assert_int_equal(w.rc_short, COIO_ETIMEDOUT);
  assert_int_equal(w.cancel_rc, 0);
  assert_int_equal(w.rc_final, COIO_ECANCELED);
  assert_int_equal(w.cancel_again_rc, COIO_EINVALSTATE);
  /* The awaited future was cancelled with the task. */
  assert_true(coio_future_cancelled(w.gate));
  coio_future_unref(w.gate);
  test_loop_free(loop);
}

static int must_not_run_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  atomic_store(&ran_flag, 1);
  return 0;
}

static void a_cfuture_cancelled_before_the_loop_runs_never_runs(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_cfuture_t *cf;
  (void)state;
  atomic_store(&ran_flag, 0);
  /* From the loop's own thread, before it runs: allowed (asyncio too). */
  assert_int_equal(coio_run_threadsafe(loop, must_not_run_task, NULL, NULL, &cf), 0);
  assert_int_equal(coio_cfuture_done(cf), 0);
  assert_int_equal(coio_cfuture_cancel(cf), 0);
  assert_int_equal(coio_cfuture_cancel(cf), 0); /* already requested */
  run_once(loop);
  assert_int_equal(coio_cfuture_done(cf), 1);
  assert_int_equal(coio_cfuture_wait(cf, 0, NULL), COIO_ECANCELED);
  assert_int_equal(atomic_load(&ran_flag), 0);
  coio_cfuture_free(cf);
  test_loop_free(loop);
}

static int ret_new_int(void *arg, void **result) {
  (void)arg;
  *result = new_int(5);
  return *result ? 0 : COIO_ENOMEM;
}

static void freeing_a_cfuture_early_still_frees_the_result(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_options_t o;
  coio_cfuture_t *cf;
  int i;
  (void)state;
  reset_counts();
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, &o, &cf), 0);
  coio_cfuture_free(cf); /* before the task even started */
  for (i = 0; i < 100 && atomic_load(&results_freed) == 0; i++)
    run_once(loop); /* the spawn, the task's step, its done callback */
  assert_int_equal(atomic_load(&results_freed), 1);
  test_loop_free(loop);
}

static int wait_from_inside(void *arg, void **result) {
  coio_cfuture_t *cf = arg;
  (void)result;
  return coio_cfuture_wait(cf, 1.0, NULL);
}

static void waiting_from_a_task_of_the_same_loop_is_refused(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_options_t o;
  coio_cfuture_t *cf;
  coio_task_t *t;
  (void)state;
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, &o, &cf), 0);
  assert_int_equal(coio_task_spawn(loop, wait_from_inside, cf, NULL, &t), 0);
  assert_int_equal(run_until_done(loop, t), 0);
  assert_int_equal(coio_future_result(t, NULL), COIO_EBUSY);
  coio_future_unref(t);
  coio_cfuture_free(cf);
  test_loop_free(loop);
}

/* ---- closing a loop with work in flight ------------------------------------------ */

static int quick_job(void *arg, void **result) {
  (void)arg;
  *result = new_int(1);
  return *result ? 0 : COIO_ENOMEM;
}

static void closing_a_loop_with_work_in_flight_leaks_nothing(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_t *ex;
  coio_executor_job_options_t o;
  coio_future_t *f[4], *other;
  coio_cfuture_t *cf;
  blocker_t bl;
  int i;
  (void)state;
  reset_counts();
  blocker_init(&bl, loop);
  memset(&o, 0, sizeof o);
  o.result_dtor = count_free;
  o.arg_dtor = count_arg;
  /* Default executor jobs that are never delivered (the loop never runs). */
  for (i = 0; i < 4; i++)
    assert_int_equal(coio_run_in_executor(loop, NULL, quick_job, NULL, &o, &f[i]), 0);
  /* A job of a pool that outlives the loop, still blocked at close. */
  assert_int_equal(coio_executor_new(&ex, 1), 0);
  assert_int_equal(coio_run_in_executor(loop, ex, blocking_job, &bl, &o, &other), 0);
  /* A task handle whose spawn is never delivered. */
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, NULL, &cf), 0);
  for (i = 0; i < 4; i++)
    coio_future_unref(f[i]);
  coio_future_unref(other);
  assert_int_equal(coio_loop_close(loop), 0); /* waits for the default pool's work */
  assert_int_equal(atomic_load(&results_freed), 4);
  assert_int_equal(coio_cfuture_wait(cf, BOUND, NULL), COIO_ECLOSED);
  coio_cfuture_free(cf);
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, NULL, &cf), COIO_ECLOSED);
  test_loop_free(loop);
  /* The other pool's job finishes after the loop is gone: dropped there. */
  gate_open(&bl.gate);
  assert_int_equal(coio_executor_free(ex), 0);
  assert_int_equal(atomic_load(&results_freed), 5);
  assert_int_equal(atomic_load(&args_freed), 5);
}

static atomic_int main_returned, bg_job_done;

static int background_job(void *arg, void **result) {
  time_t start = time(NULL);
  (void)arg;
  (void)result;
  /* Still running when the main task has returned. */
  while (!atomic_load(&main_returned) && time(NULL) - start <= (time_t)BOUND)
    test_yield();
  atomic_store(&bg_job_done, 1);
  return 0;
}

static int run_main(void *arg, void **result) {
  coio_future_t *f;
  int rc;
  (void)arg;
  (void)result;
  rc = coio_run_in_executor(coio_future_loop(coio_task_current()), NULL, background_job, NULL,
                            NULL, &f);
  if (rc != 0)
    return rc;
  coio_future_unref(f); /* not awaited */
  atomic_store(&main_returned, 1);
  return 0;
}

static void coio_run_waits_for_the_default_executor(void **state) {
  coio_loop_options_t o;
  (void)state;
  atomic_store(&main_returned, 0);
  atomic_store(&bg_job_done, 0);
  memset(&o, 0, sizeof o);
  o.backend = coio_test_backend;
  assert_int_equal(coio_run(run_main, NULL, &o, NULL), 0);
  assert_int_equal(atomic_load(&bg_job_done), 1);
}

/* A job that needs the loop (it waits for a callback it posted there)
 * while coio_run shuts the pool down: the loop keeps running meanwhile, as
 * in asyncio.run, so the job finishes instead of waiting out its bound.
 * (A task spawned with coio_run_threadsafe at that moment may be
 * cancelled by coio_run's cancel-the-rest step, as in asyncio; a plain
 * callback is not.) */
static atomic_int job_got, callback_ran;

static void set_callback_ran(coio_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
  atomic_store(&callback_ran, 1);
}

static int job_needing_the_loop(void *arg, void **result) {
  time_t start = time(NULL);
  (void)result;
  if (coio_call_soon_threadsafe(arg, set_callback_ran, NULL) != 0)
    return COIO_EUNKNOWN;
  while (!atomic_load(&callback_ran) && time(NULL) - start <= (time_t)BOUND)
    test_yield();
  if (atomic_load(&callback_ran))
    atomic_store(&job_got, 5);
  return 0;
}

static int run_main_needing_the_loop(void *arg, void **result) {
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  coio_future_t *f;
  int rc;
  (void)arg;
  (void)result;
  rc = coio_run_in_executor(loop, NULL, job_needing_the_loop, loop, NULL, &f);
  coio_future_unref(f); /* not awaited: main returns at once */
  return rc;
}

static void coio_run_keeps_the_loop_running_while_the_pool_winds_down(void **state) {
  coio_loop_options_t o;
  double t0;
  (void)state;
  atomic_store(&job_got, 0);
  atomic_store(&callback_ran, 0);
  memset(&o, 0, sizeof o);
  o.backend = coio_test_backend;
  t0 = now_s();
  assert_int_equal(coio_run(run_main_needing_the_loop, NULL, &o, NULL), 0);
  assert_int_equal(atomic_load(&job_got), 5);
  assert_true(now_s() - t0 < BOUND / 2);
}

/* ---- bad input ------------------------------------------------------------------------ */

static int shutdown_own_pool(void *arg, void **result) {
  (void)result;
  return coio_executor_shutdown(arg, 0) == COIO_EBUSY && coio_executor_free(arg) == COIO_EBUSY
             ? 0
             : COIO_EUNKNOWN;
}

static void bad_input_gives_error_codes(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_executor_t *ex = NULL;
  coio_future_t *f = (coio_future_t *)&f;
  coio_cfuture_t *cf = (coio_cfuture_t *)&cf;
  (void)state;
  assert_int_equal(coio_executor_new(NULL, 1), COIO_EINVAL);
  assert_int_equal(coio_executor_new(&ex, 100000), COIO_EINVAL);
  assert_null(ex);
  assert_int_equal(coio_executor_shutdown(NULL, 0), COIO_EINVAL);
  assert_int_equal(coio_executor_free(NULL), 0);
  assert_int_equal(coio_run_in_executor(NULL, NULL, quick_job, NULL, NULL, &f), COIO_EINVAL);
  assert_null(f);
  assert_int_equal(coio_run_in_executor(loop, NULL, NULL, NULL, NULL, &f), COIO_EINVAL);
  assert_int_equal(coio_run_in_executor(loop, NULL, quick_job, NULL, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_set_default_executor_size(NULL, 1), COIO_EINVAL);
  assert_int_equal(coio_loop_set_default_executor_size(loop, 5000), COIO_EINVAL);
  assert_int_equal(coio_loop_shutdown_default_executor(NULL, &f), COIO_EINVAL);
  assert_int_equal(coio_loop_shutdown_default_executor(loop, NULL), COIO_EINVAL);
  assert_int_equal(coio_run_threadsafe(NULL, ret_new_int, NULL, NULL, &cf), COIO_EINVAL);
  assert_null(cf);
  assert_int_equal(coio_run_threadsafe(loop, NULL, NULL, NULL, &cf), COIO_EINVAL);
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_cfuture_wait(NULL, 1, NULL), COIO_EINVAL);
  assert_int_equal(coio_cfuture_cancel(NULL), COIO_EINVAL);
  assert_int_equal(coio_cfuture_done(NULL), 0);
  coio_cfuture_free(NULL);

  /* Timeouts: negative, NaN and -inf are refused; +inf waits. */
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, NULL, &cf), 0);
  assert_int_equal(coio_cfuture_wait(cf, -1, NULL), COIO_EINVAL);
  assert_int_equal(coio_cfuture_wait(cf, NAN, NULL), COIO_EINVAL);
  assert_int_equal(coio_cfuture_wait(cf, -HUGE_VAL, NULL), COIO_EINVAL);
  assert_int_equal(coio_cfuture_wait(cf, 0, NULL), COIO_ETIMEDOUT);
  assert_int_equal(run_until_cf_done(loop, cf), 0);
  {
    void *v = NULL;
    assert_int_equal(coio_cfuture_wait(cf, HUGE_VAL, &v), 0);
    assert_non_null(v);
    free(v); /* no result_dtor: the value is the caller's to free */
  }
  coio_cfuture_free(cf);

  /* A pool's own worker cannot shut it down (it would wait for itself). */
  assert_int_equal(coio_executor_new(&ex, 1), 0);
  assert_int_equal(coio_run_in_executor(loop, ex, shutdown_own_pool, ex, NULL, &f), 0);
  assert_int_equal(run_until_done(loop, f), 0);
  assert_int_equal(coio_future_result(f, NULL), 0);
  coio_future_unref(f);
  assert_int_equal(coio_executor_free(ex), 0);

  /* A closed loop. */
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(coio_run_in_executor(loop, NULL, quick_job, NULL, NULL, &f), COIO_ECLOSED);
  assert_int_equal(coio_run_threadsafe(loop, ret_new_int, NULL, NULL, &cf), COIO_ECLOSED);
  assert_int_equal(coio_loop_set_default_executor_size(loop, 2), COIO_ECLOSED);
  assert_int_equal(coio_loop_shutdown_default_executor(loop, &f), COIO_ECLOSED);
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_result_arrives_on_the_loop_thread),
    cmocka_unit_test(errors_are_delivered_and_failed_results_freed),
    cmocka_unit_test(a_task_awaits_jobs_in_turn),
    cmocka_unit_test(more_jobs_than_threads_all_complete_within_the_limit),
    cmocka_unit_test(the_default_executor_size_is_a_limit),
    cmocka_unit_test(a_cancelled_queued_job_never_runs),
    cmocka_unit_test(a_running_job_finishes_and_its_result_is_dropped),
    cmocka_unit_test(cancelling_the_awaiting_task_cancels_the_job_future),
    cmocka_unit_test(shutdown_waits_for_running_and_queued_jobs),
    cmocka_unit_test(shutdown_with_cancel_pending_cancels_the_queue),
    cmocka_unit_test(shutdown_default_executor_does_not_block_the_loop),
    cmocka_unit_test(shutdown_default_executor_without_one_is_done_at_once),
    cmocka_unit_test(timers_fire_while_a_job_blocks),
    cmocka_unit_test(tasks_submitted_from_several_threads_deliver_results),
    cmocka_unit_test(cfuture_wait_times_out_then_gets_the_result),
    cmocka_unit_test(cfuture_cancel_cancels_the_task),
    cmocka_unit_test(a_cfuture_cancelled_before_the_loop_runs_never_runs),
    cmocka_unit_test(freeing_a_cfuture_early_still_frees_the_result),
    cmocka_unit_test(waiting_from_a_task_of_the_same_loop_is_refused),
    cmocka_unit_test(closing_a_loop_with_work_in_flight_leaks_nothing),
    cmocka_unit_test(coio_run_waits_for_the_default_executor),
    cmocka_unit_test(coio_run_keeps_the_loop_running_while_the_pool_winds_down),
    cmocka_unit_test(bad_input_gives_error_codes),
};

TEST_MAIN("executor", tests)
