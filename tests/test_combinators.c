/* tests/test_combinators.c - gather, wait, wait_for, as_completed, shield,
 * timeout scopes and task groups, with asyncio's semantics, including
 * cancellation inside each. Runs once per backend. */
#include <string.h>

#include "harness.h"

static int run_until(coio_loop_t *loop, coio_future_t *fut) {
  coio_handle_t h;
  int rc;
  assert_int_equal(coio_call_later(loop, 20, test_stop_cb, NULL, &h), 0);
  rc = coio_loop_run_until_complete(loop, fut);
  coio_handle_cancel(loop, h);
  assert_true(coio_future_done(fut)); /* else the watchdog stopped it */
  return rc;
}

/* A configurable child: sleeps, then returns rc; records how it ended. */
typedef struct job {
  double delay;
  int rc;
  int ended_with; /* what its sleep returned */
  int ran;
} job_t;

static int job_fn(void *arg, void **result) {
  job_t *j = arg;
  j->ran = 1;
  j->ended_with = coio_sleep(j->delay);
  *result = j;
  if (j->ended_with != 0)
    return j->ended_with;
  return j->rc;
}

static coio_task_t *spawn_job(coio_loop_t *loop, job_t *j) {
  coio_task_t *t;
  assert_int_equal(coio_task_spawn(loop, job_fn, j, NULL, &t), 0);
  return t;
}

/* Runs body(arg) as a task and returns its status. */
static int in_task(coio_loop_t *loop, coio_task_fn body, void *arg) {
  coio_task_t *t;
  int rc;
  assert_int_equal(coio_task_spawn(loop, body, arg, NULL, &t), 0);
  rc = run_until(loop, t);
  coio_future_unref(t);
  return rc;
}

/* ---- gather ----------------------------------------------------------------- */

static void gather_keeps_results_in_order_and_fails_fast(void **state) {
  coio_loop_t *loop = test_loop_new();
  job_t j[3] = {{0.03, 0, 0, 0}, {0.01, 0, 0, 0}, {0.02, 0, 0, 0}};
  coio_task_t *t[3];
  coio_future_t *g;
  void *v;
  int i;
  (void)state;
  for (i = 0; i < 3; i++)
    t[i] = spawn_job(loop, &j[i]);
  assert_int_equal(coio_gather(loop, t, 3, 0, &g), 0);
  assert_int_equal(run_until(loop, g), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(coio_future_result(t[i], &v), 0);
    assert_ptr_equal(v, &j[i]);
    coio_future_unref(t[i]);
  }
  coio_future_unref(g);

  /* the first failure completes the gathering; the others go on */
  j[0].rc = 0;
  j[1].rc = COIO_EIO;
  j[1].delay = 0.005;
  j[2].rc = COIO_EPIPE;
  for (i = 0; i < 3; i++)
    t[i] = spawn_job(loop, &j[i]);
  assert_int_equal(coio_gather(loop, t, 3, 0, &g), 0);
  assert_int_equal(run_until(loop, g), COIO_EIO);
  assert_false(coio_future_done(t[0]));
  assert_int_equal(run_until(loop, t[0]), 0);
  for (i = 0; i < 3; i++)
    coio_future_unref(t[i]);
  coio_future_unref(g);

  /* collecting errors: done when all are, successfully */
  for (i = 0; i < 3; i++)
    t[i] = spawn_job(loop, &j[i]);
  assert_int_equal(coio_gather(loop, t, 3, COIO_GATHER_COLLECT_ERRORS, &g), 0);
  assert_int_equal(run_until(loop, g), 0);
  assert_int_equal(coio_future_result(t[1], NULL), COIO_EIO);
  assert_int_equal(coio_future_result(t[2], NULL), COIO_EPIPE);
  for (i = 0; i < 3; i++)
    coio_future_unref(t[i]);
  coio_future_unref(g);

  /* nothing to gather: done at once */
  assert_int_equal(coio_gather(loop, NULL, 0, 0, &g), 0);
  assert_true(coio_future_done(g));
  coio_future_unref(g);
  assert_int_equal(coio_gather(loop, t, 1, 0, NULL), COIO_EINVAL);
  test_loop_free(loop);
}

static void cancelling_a_gather_cancels_its_children(void **state) {
  coio_loop_t *loop = test_loop_new();
  job_t j[2] = {{10, 0, 0, 0}, {10, 0, 0, 0}};
  coio_task_t *t[2];
  coio_future_t *g;
  (void)state;
  t[0] = spawn_job(loop, &j[0]);
  t[1] = spawn_job(loop, &j[1]);
  assert_int_equal(coio_gather(loop, t, 2, 0, &g), 0);
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_future_cancel(g, "enough"), 0);
  assert_int_equal(run_until(loop, g), COIO_ECANCELED);
  assert_true(coio_future_cancelled(t[0]));
  assert_true(coio_future_cancelled(t[1]));
  assert_int_equal(j[0].ended_with, COIO_ECANCELED);
  coio_future_unref(t[0]);
  coio_future_unref(t[1]);
  coio_future_unref(g);
  test_loop_free(loop);
}

/* ---- wait ------------------------------------------------------------------------ */

typedef struct waitcase {
  job_t j[3];
  coio_task_t *t[3];
  coio_wait_mode_t mode;
  double timeout;
  int rc;
} waitcase_t;

static int do_wait(void *arg, void **result) {
  waitcase_t *w = arg;
  (void)result;
  w->rc = coio_wait(w->t, 3, w->mode, w->timeout);
  return 0;
}

static void run_wait(coio_loop_t *loop, waitcase_t *w) {
  int i;
  for (i = 0; i < 3; i++)
    w->t[i] = spawn_job(loop, &w->j[i]);
  assert_int_equal(in_task(loop, do_wait, w), 0);
}

static void finish_wait(coio_loop_t *loop, waitcase_t *w) {
  int i;
  for (i = 0; i < 3; i++) {
    coio_task_cancel(w->t[i], NULL);
    run_until(loop, w->t[i]);
    coio_future_unref(w->t[i]);
  }
}

static void wait_modes_and_timeout(void **state) {
  coio_loop_t *loop = test_loop_new();
  waitcase_t w;
  (void)state;
  memset(&w, 0, sizeof w);
  w.j[0].delay = 0.01;
  w.j[1].delay = 5;
  w.j[2].delay = 5;
  w.mode = COIO_WAIT_FIRST_COMPLETED;
  w.timeout = COIO_NO_TIMEOUT;
  run_wait(loop, &w);
  assert_int_equal(w.rc, 1);
  assert_true(coio_future_done(w.t[0]));
  assert_false(coio_future_done(w.t[1]));
  finish_wait(loop, &w);

  memset(&w, 0, sizeof w);
  w.j[0].delay = 0.01;
  w.j[1].delay = 0.02;
  w.j[1].rc = COIO_EIO;
  w.j[2].delay = 5;
  w.mode = COIO_WAIT_FIRST_EXCEPTION;
  w.timeout = COIO_NO_TIMEOUT;
  run_wait(loop, &w);
  assert_int_equal(w.rc, 2);
  assert_false(coio_future_done(w.t[2]));
  finish_wait(loop, &w);

  memset(&w, 0, sizeof w);
  w.j[0].delay = 0.01;
  w.j[1].delay = 0.02;
  w.j[2].delay = 0.005;
  w.mode = COIO_WAIT_ALL_COMPLETED;
  w.timeout = COIO_NO_TIMEOUT;
  run_wait(loop, &w);
  assert_int_equal(w.rc, 3);
  finish_wait(loop, &w);

  /* timeout: returns what is done, cancels nothing */
  memset(&w, 0, sizeof w);
  w.j[0].delay = 0.005;
  w.j[1].delay = 5;
  w.j[2].delay = 5;
  w.mode = COIO_WAIT_ALL_COMPLETED;
  w.timeout = 0.05;
  run_wait(loop, &w);
  assert_int_equal(w.rc, 1);
  assert_false(coio_future_done(w.t[1]));
  finish_wait(loop, &w);

  /* bad input */
  memset(&w, 0, sizeof w);
  w.mode = COIO_WAIT_ALL_COMPLETED;
  w.timeout = -1;
  run_wait(loop, &w);
  assert_int_equal(w.rc, COIO_EINVAL);
  finish_wait(loop, &w);
  assert_int_equal(coio_wait(NULL, 0, COIO_WAIT_ALL_COMPLETED, 1), COIO_ENOTASK);
  test_loop_free(loop);
}

/* ---- wait_for ---------------------------------------------------------------------- */

typedef struct wf {
  job_t job;
  coio_task_t *inner;
  double timeout;
  int rc;
} wf_t;

static int do_wait_for(void *arg, void **result) {
  wf_t *w = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  (void)result;
  assert_int_equal(coio_task_spawn(loop, job_fn, &w->job, NULL, &w->inner), 0);
  w->rc = coio_wait_for(w->inner, w->timeout);
  return w->rc;
}

static void wait_for_returns_or_times_out_and_cancels(void **state) {
  coio_loop_t *loop = test_loop_new();
  wf_t w;
  (void)state;
  memset(&w, 0, sizeof w);
  w.job.delay = 0.01;
  w.job.rc = COIO_EPIPE;
  w.timeout = 5;
  assert_int_equal(in_task(loop, do_wait_for, &w), COIO_EPIPE);
  coio_future_unref(w.inner);

  memset(&w, 0, sizeof w);
  w.job.delay = 10;
  w.timeout = 0.02;
  assert_int_equal(in_task(loop, do_wait_for, &w), COIO_ETIMEDOUT);
  /* the inner task was cancelled and had ended when wait_for returned */
  assert_true(coio_future_cancelled(w.inner));
  assert_int_equal(w.job.ended_with, COIO_ECANCELED);
  coio_future_unref(w.inner);

  memset(&w, 0, sizeof w);
  w.job.delay = 10;
  w.timeout = 0; /* expires at once */
  assert_int_equal(in_task(loop, do_wait_for, &w), COIO_ETIMEDOUT);
  coio_future_unref(w.inner);
  test_loop_free(loop);
}

static void cancelling_wait_for_cancels_the_inner_task(void **state) {
  coio_loop_t *loop = test_loop_new();
  wf_t w;
  coio_task_t *outer;
  (void)state;
  memset(&w, 0, sizeof w);
  w.job.delay = 10;
  w.timeout = 5;
  assert_int_equal(coio_task_spawn(loop, do_wait_for, &w, NULL, &outer), 0);
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_task_cancel(outer, NULL), 0);
  assert_int_equal(run_until(loop, outer), COIO_ECANCELED);
  assert_int_equal(w.rc, COIO_ECANCELED); /* not a timeout */
  assert_true(coio_future_cancelled(w.inner));
  coio_future_unref(w.inner);
  coio_future_unref(outer);
  test_loop_free(loop);
}

/* ---- as_completed ---------------------------------------------------------------- */

typedef struct ac {
  job_t j[3];
  coio_task_t *t[3];
  job_t *order[3];
  int n;
  double timeout;
  int last_rc;
} ac_t;

static int do_as_completed(void *arg, void **result) {
  ac_t *a = arg;
  coio_as_completed_t *it;
  coio_future_t *f;
  void *v;
  int rc;
  (void)result;
  assert_int_equal(coio_as_completed_new(coio_future_loop(coio_task_current()), a->t, 3, a->timeout, &it), 0);
  while ((rc = coio_as_completed_next(it, &f)) == 1) {
    assert_int_equal(coio_future_result(f, &v), 0);
    a->order[a->n++] = v;
  }
  a->last_rc = rc;
  coio_as_completed_free(it);
  return 0;
}

static void as_completed_yields_in_completion_order(void **state) {
  coio_loop_t *loop = test_loop_new();
  ac_t a;
  int i;
  (void)state;
  memset(&a, 0, sizeof a);
  a.j[0].delay = 0.03;
  a.j[1].delay = 0.01;
  a.j[2].delay = 0.02;
  a.timeout = COIO_NO_TIMEOUT;
  for (i = 0; i < 3; i++)
    a.t[i] = spawn_job(loop, &a.j[i]);
  assert_int_equal(in_task(loop, do_as_completed, &a), 0);
  assert_int_equal(a.n, 3);
  assert_int_equal(a.last_rc, 0);
  assert_ptr_equal(a.order[0], &a.j[1]);
  assert_ptr_equal(a.order[1], &a.j[2]);
  assert_ptr_equal(a.order[2], &a.j[0]);
  for (i = 0; i < 3; i++)
    coio_future_unref(a.t[i]);

  /* with a timeout: what is done in time, then COIO_ETIMEDOUT */
  memset(&a, 0, sizeof a);
  a.j[0].delay = 0.005;
  a.j[1].delay = 10;
  a.j[2].delay = 10;
  a.timeout = 0.05;
  for (i = 0; i < 3; i++)
    a.t[i] = spawn_job(loop, &a.j[i]);
  assert_int_equal(in_task(loop, do_as_completed, &a), 0);
  assert_int_equal(a.n, 1);
  assert_int_equal(a.last_rc, COIO_ETIMEDOUT);
  for (i = 0; i < 3; i++) {
    coio_task_cancel(a.t[i], NULL);
    run_until(loop, a.t[i]);
    coio_future_unref(a.t[i]);
  }
  test_loop_free(loop);
}

/* ---- shield ------------------------------------------------------------------------ */

typedef struct sh {
  job_t job;
  coio_task_t *inner;
  int rc;
} sh_t;

static int do_shielded_await(void *arg, void **result) {
  sh_t *s = arg;
  coio_future_t *outer;
  (void)result;
  assert_int_equal(coio_shield(s->inner, &outer), 0);
  s->rc = coio_await(outer);
  coio_future_unref(outer);
  return s->rc;
}

static void shield_protects_the_inner_future(void **state) {
  coio_loop_t *loop = test_loop_new();
  sh_t s;
  coio_task_t *waiter;
  void *v;
  (void)state;
  memset(&s, 0, sizeof s);
  s.job.delay = 0.05;
  s.inner = spawn_job(loop, &s.job);
  assert_int_equal(coio_task_spawn(loop, do_shielded_await, &s, NULL, &waiter), 0);
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_task_cancel(waiter, NULL), 0);
  assert_int_equal(run_until(loop, waiter), COIO_ECANCELED);
  assert_false(coio_future_done(s.inner)); /* still running */
  assert_int_equal(run_until(loop, s.inner), 0);
  assert_int_equal(coio_future_result(s.inner, &v), 0);
  assert_ptr_equal(v, &s.job);
  coio_future_unref(waiter);
  coio_future_unref(s.inner);
  test_loop_free(loop);
}

/* ---- timeout scopes ------------------------------------------------------------------ */

typedef struct scopecase {
  double outer_delay, inner_delay, sleep;
  int inner_rc, outer_rc;
  int expired_inner, expired_outer;
  int reschedule_rc;
} scopecase_t;

static int do_scopes(void *arg, void **result) {
  scopecase_t *c = arg;
  coio_timeout_t *outer, *inner;
  int rc;
  (void)result;
  assert_int_equal(coio_timeout_enter(c->outer_delay, &outer), 0);
  assert_int_equal(coio_timeout_enter(c->inner_delay, &inner), 0);
  rc = coio_sleep(c->sleep);
  c->expired_inner = coio_timeout_expired(inner);
  c->reschedule_rc = coio_timeout_reschedule(inner, COIO_NO_TIMEOUT);
  rc = c->inner_rc = coio_timeout_exit(inner, rc);
  if (rc == COIO_ETIMEDOUT)
    rc = 0; /* handled: go on inside the outer scope */
  if (rc == 0)
    rc = coio_sleep(0);
  c->expired_outer = coio_timeout_expired(outer);
  rc = c->outer_rc = coio_timeout_exit(outer, rc);
  return rc;
}

static void timeout_scopes_expire_and_nest(void **state) {
  coio_loop_t *loop = test_loop_new();
  scopecase_t c;
  (void)state;
  /* the inner scope expires: only it reports a timeout */
  memset(&c, 0, sizeof c);
  c.outer_delay = 10;
  c.inner_delay = 0.02;
  c.sleep = 10;
  assert_int_equal(in_task(loop, do_scopes, &c), 0);
  assert_int_equal(c.inner_rc, COIO_ETIMEDOUT);
  assert_int_equal(c.expired_inner, 1);
  assert_int_equal(c.reschedule_rc, COIO_EINVALSTATE);
  assert_int_equal(c.outer_rc, 0);
  assert_int_equal(c.expired_outer, 0);

  /* the outer expires while the inner is entered: the inner passes the
   * cancellation on, the outer turns it into its timeout */
  memset(&c, 0, sizeof c);
  c.outer_delay = 0.02;
  c.inner_delay = 10;
  c.sleep = 10;
  assert_int_equal(in_task(loop, do_scopes, &c), COIO_ETIMEDOUT);
  assert_int_equal(c.inner_rc, COIO_ECANCELED);
  assert_int_equal(c.expired_inner, 0);
  assert_int_equal(c.expired_outer, 1);

  /* nothing expires */
  memset(&c, 0, sizeof c);
  c.outer_delay = 10;
  c.inner_delay = COIO_NO_TIMEOUT;
  c.sleep = 0.01;
  assert_int_equal(in_task(loop, do_scopes, &c), 0);
  assert_int_equal(c.reschedule_rc, 0);
  test_loop_free(loop);
}

static int do_reschedule(void *arg, void **result) {
  coio_timeout_t *s;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  int rc;
  (void)arg;
  (void)result;
  assert_int_equal(coio_timeout_enter(COIO_NO_TIMEOUT, &s), 0);
  assert_true(coio_timeout_when(s) > 1e300);
  assert_int_equal(coio_timeout_reschedule(s, coio_loop_time(loop) + 0.02), 0);
  rc = coio_sleep(10);
  return coio_timeout_exit(s, rc);
}

static void a_scope_can_be_rescheduled(void **state) {
  coio_loop_t *loop = test_loop_new();
  (void)state;
  assert_int_equal(in_task(loop, do_reschedule, NULL), COIO_ETIMEDOUT);
  test_loop_free(loop);
}

typedef struct outside {
  int rc;
} outside_t;

static int scope_then_outside_cancel(void *arg, void **result) {
  outside_t *o = arg;
  coio_timeout_t *s;
  (void)result;
  assert_int_equal(coio_timeout_enter(10, &s), 0);
  o->rc = coio_timeout_exit(s, coio_sleep(10));
  return o->rc;
}

static void an_outside_cancel_is_not_a_timeout(void **state) {
  coio_loop_t *loop = test_loop_new();
  outside_t o = {0};
  coio_task_t *t;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, scope_then_outside_cancel, &o, NULL, &t), 0);
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_task_cancel(t, NULL), 0);
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_int_equal(o.rc, COIO_ECANCELED);
  coio_future_unref(t);
  assert_int_equal(coio_timeout_exit(NULL, 0), COIO_EINVAL);
  test_loop_free(loop);
}

/* ---- task groups ---------------------------------------------------------------------- */

typedef struct tg {
  job_t j[3];
  coio_task_t *t[3];
  double body_sleep;
  int body_rc;
  int wait_rc;
  size_t nerrors;
  int err0;
  coio_task_t *err0_task;
  int cancelling_after;
  int late_spawn_rc;
} tg_t;

static int do_group(void *arg, void **result) {
  tg_t *c = arg;
  coio_task_group_t *g;
  int i;
  (void)result;
  assert_int_equal(coio_task_group_new(&g), 0);
  for (i = 0; i < 3; i++)
    assert_int_equal(coio_task_group_spawn(g, job_fn, &c->j[i], NULL, &c->t[i]), 0);
  c->body_rc = c->body_sleep > 0 ? coio_sleep(c->body_sleep) : 0;
  c->wait_rc = coio_task_group_wait(g, c->body_rc);
  c->nerrors = coio_task_group_error_count(g);
  if (c->nerrors)
    c->err0 = coio_task_group_error(g, 0, &c->err0_task);
  c->cancelling_after = coio_task_cancelling(coio_task_current());
  c->late_spawn_rc = coio_task_group_spawn(g, job_fn, &c->j[0], NULL, NULL);
  assert_int_equal(coio_task_group_free(g), 0);
  return c->wait_rc;
}

static void release_group(tg_t *c) {
  int i;
  for (i = 0; i < 3; i++)
    coio_future_unref(c->t[i]);
}

static void a_group_waits_for_all_children(void **state) {
  coio_loop_t *loop = test_loop_new();
  tg_t c;
  int i;
  (void)state;
  memset(&c, 0, sizeof c);
  c.j[0].delay = 0.01;
  c.j[1].delay = 0.03;
  c.j[2].delay = 0.02;
  assert_int_equal(in_task(loop, do_group, &c), 0);
  for (i = 0; i < 3; i++)
    assert_int_equal(coio_future_result(c.t[i], NULL), 0);
  assert_int_equal(c.nerrors, 0);
  assert_int_equal(c.late_spawn_rc, COIO_EINVALSTATE);
  release_group(&c);
  test_loop_free(loop);
}

static void a_failing_child_cancels_siblings_and_the_body(void **state) {
  coio_loop_t *loop = test_loop_new();
  tg_t c;
  (void)state;
  memset(&c, 0, sizeof c);
  c.j[0].delay = 0.01;
  c.j[0].rc = COIO_ECONNRESET;
  c.j[1].delay = 10;
  c.j[2].delay = 10;
  c.body_sleep = 10;
  assert_int_equal(in_task(loop, do_group, &c), COIO_ECONNRESET);
  assert_int_equal(c.body_rc, COIO_ECANCELED); /* the body's await was interrupted */
  assert_true(coio_future_cancelled(c.t[1]));
  assert_true(coio_future_cancelled(c.t[2]));
  assert_int_equal(c.nerrors, 1);
  assert_int_equal(c.err0, COIO_ECONNRESET);
  assert_ptr_equal(c.err0_task, c.t[0]);
  assert_int_equal(c.cancelling_after, 0); /* the group withdrew its request */
  release_group(&c);
  test_loop_free(loop);
}

static void every_error_is_reported(void **state) {
  coio_loop_t *loop = test_loop_new();
  tg_t c;
  (void)state;
  memset(&c, 0, sizeof c);
  /* two children fail in the same iteration: both are recorded */
  c.j[0].delay = 0.01;
  c.j[0].rc = COIO_EIO;
  c.j[1].delay = 0.01;
  c.j[1].rc = COIO_EPIPE;
  c.j[2].delay = 10;
  assert_int_equal(in_task(loop, do_group, &c), COIO_EIO);
  assert_int_equal(c.nerrors, 2);
  release_group(&c);
  test_loop_free(loop);
}

static void cancelling_the_parent_cancels_the_group(void **state) {
  coio_loop_t *loop = test_loop_new();
  tg_t c;
  coio_task_t *parent;
  (void)state;
  memset(&c, 0, sizeof c);
  c.j[0].delay = 10;
  c.j[1].delay = 10;
  c.j[2].delay = 10;
  c.body_sleep = 0; /* straight to wait */
  assert_int_equal(coio_task_spawn(loop, do_group, &c, NULL, &parent), 0);
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_task_cancel(parent, NULL), 0);
  assert_int_equal(run_until(loop, parent), COIO_ECANCELED);
  assert_int_equal(c.wait_rc, COIO_ECANCELED);
  assert_true(coio_future_cancelled(c.t[0]));
  assert_int_equal(c.nerrors, 0);
  coio_future_unref(parent);
  release_group(&c);
  test_loop_free(loop);
}

static int group_outside_task(void *arg, void **result) {
  (void)arg;
  (void)result;
  return 0;
}

static void group_bad_input(void **state) {
  coio_task_group_t *g = NULL;
  (void)state;
  assert_int_equal(coio_task_group_new(&g), COIO_ENOTASK);
  assert_null(g);
  assert_int_equal(coio_task_group_new(NULL), COIO_EINVAL);
  assert_int_equal(coio_task_group_spawn(NULL, group_outside_task, NULL, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_task_group_wait(NULL, 0), COIO_EINVAL);
  assert_int_equal(coio_task_group_error(NULL, 0, NULL), COIO_EINVAL);
  assert_int_equal(coio_task_group_free(NULL), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(gather_keeps_results_in_order_and_fails_fast),
    cmocka_unit_test(cancelling_a_gather_cancels_its_children),
    cmocka_unit_test(wait_modes_and_timeout),
    cmocka_unit_test(wait_for_returns_or_times_out_and_cancels),
    cmocka_unit_test(cancelling_wait_for_cancels_the_inner_task),
    cmocka_unit_test(as_completed_yields_in_completion_order),
    cmocka_unit_test(shield_protects_the_inner_future),
    cmocka_unit_test(timeout_scopes_expire_and_nest),
    cmocka_unit_test(a_scope_can_be_rescheduled),
    cmocka_unit_test(an_outside_cancel_is_not_a_timeout),
    cmocka_unit_test(a_group_waits_for_all_children),
    cmocka_unit_test(a_failing_child_cancels_siblings_and_the_body),
    cmocka_unit_test(every_error_is_reported),
    cmocka_unit_test(cancelling_the_parent_cancels_the_group),
    cmocka_unit_test(group_bad_input),
};

TEST_MAIN("combinators", tests)
