/* tests/test_task.c - tasks: spawn and await, results and errors, sleep,
 * the current task, names, every cancellation path (before start, while
 * sleeping, while awaiting, twice, after completion, swallowed, uncancel,
 * self-cancel), context values, coio_run, and bad input. Runs once per
 * backend. */
#include <string.h>

#include "harness.h"

/* Runs the loop until fut is done, bounded by a watchdog. */
static int run_until(coio_loop_t *loop, coio_future_t *fut) {
  coio_handle_t h;
  int rc;
  assert_int_equal(coio_call_later(loop, 20, test_stop_cb, NULL, &h), 0);
  rc = coio_loop_run_until_complete(loop, fut);
  coio_handle_cancel(loop, h);
  assert_true(coio_future_done(fut)); /* else the watchdog stopped it */
  return rc;
}

/* ---- results ---------------------------------------------------------------- */

static int return_arg(void *arg, void **result) {
  *result = arg;
  return 0;
}

static int fail_with(void *arg, void **result) {
  (void)result;
  return coio_task_error((int)(intptr_t)arg, "it went wrong");
}

static void a_task_returns_its_value_or_its_error(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_t *t;
  void *v;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, return_arg, (void *)"value", NULL, &t), 0);
  assert_true(coio_is_task(t));
  assert_false(coio_future_done(t)); /* its first step runs in the loop */
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(coio_future_result(t, &v), 0);
  assert_string_equal((const char *)v, "value");
  coio_future_unref(t);

  assert_int_equal(coio_task_spawn(loop, fail_with, (void *)(intptr_t)COIO_EPIPE, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), COIO_EPIPE);
  assert_string_equal(coio_future_message(t), "it went wrong");
  coio_future_unref(t);
  test_loop_free(loop);
}

/* ---- awaiting ------------------------------------------------------------------ */

typedef struct chain {
  coio_future_t *fut;
  int got;
  void *value;
  double slept;
} chain_t;

static int await_future(void *arg, void **result) {
  chain_t *c = arg;
  (void)result;
  c->got = coio_await(c->fut);
  coio_future_result(c->fut, &c->value);
  return c->got;
}

static void resolve(coio_loop_t *loop, void *arg) {
  (void)loop;
  coio_future_set_result(arg, (void *)"late", NULL);
}

static void await_suspends_until_the_future_is_done(void **state) {
  coio_loop_t *loop = test_loop_new();
  chain_t c;
  coio_task_t *t;
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_future_new(loop, &c.fut), 0);
  assert_int_equal(coio_task_spawn(loop, await_future, &c, NULL, &t), 0);
  assert_int_equal(coio_call_later(loop, 0.02, resolve, c.fut, NULL), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(c.got, 0);
  assert_string_equal((const char *)c.value, "late");
  /* awaiting a done future returns at once */
  coio_future_unref(t);
  assert_int_equal(coio_task_spawn(loop, await_future, &c, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), 0);
  coio_future_unref(t);
  coio_future_unref(c.fut);
  test_loop_free(loop);
}

typedef struct nest {
  int depth;
  int *max_seen;
} nest_t;

/* A task awaiting a child task awaiting a child task ... */
static int nested(void *arg, void **result) {
  nest_t *n = arg, child;
  coio_task_t *t;
  int rc;
  (void)result;
  if (n->depth > *n->max_seen)
    *n->max_seen = n->depth;
  if (n->depth == 50)
    return coio_sleep(0);
  child.depth = n->depth + 1;
  child.max_seen = n->max_seen;
  if ((rc = coio_task_spawn(coio_future_loop(coio_task_current()), nested, &child, NULL, &t)) != 0)
    return rc;
  rc = coio_await(t);
  coio_future_unref(t);
  return rc;
}

static void tasks_await_tasks(void **state) {
  coio_loop_t *loop = test_loop_new();
  int max_seen = 0;
  nest_t root = {0, &max_seen};
  coio_task_t *t;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, nested, &root, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(max_seen, 50);
  coio_future_unref(t);
  test_loop_free(loop);
}

static int sleeper(void *arg, void **result) {
  chain_t *c = arg;
  double t0 = coio_loop_time(coio_future_loop(coio_task_current()));
  (void)result;
  c->got = coio_sleep(0.05);
  c->slept = coio_loop_time(coio_future_loop(coio_task_current())) - t0;
  return c->got;
}

static void sleep_suspends_for_at_least_its_time(void **state) {
  coio_loop_t *loop = test_loop_new();
  chain_t c;
  coio_task_t *t;
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_task_spawn(loop, sleeper, &c, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(c.got, 0);
  assert_true(c.slept >= 0.05);
  coio_future_unref(t);
  test_loop_free(loop);
}

/* sleep(0) yields: two tasks interleave step by step */
typedef struct pingpong {
  char log[32];
  int n;
} pingpong_t;

typedef struct player {
  pingpong_t *pp;
  char mark;
} player_t;

static int play(void *arg, void **result) {
  player_t *p = arg;
  int i;
  (void)result;
  for (i = 0; i < 3; i++) {
    p->pp->log[p->pp->n++] = p->mark;
    assert_int_equal(coio_sleep(0), 0);
  }
  return 0;
}

static void sleep_zero_yields_to_other_tasks(void **state) {
  coio_loop_t *loop = test_loop_new();
  pingpong_t pp;
  player_t a, b;
  coio_task_t *ts[2];
  coio_future_t *all;
  (void)state;
  memset(&pp, 0, sizeof pp);
  a.pp = b.pp = &pp;
  a.mark = 'a';
  b.mark = 'b';
  assert_int_equal(coio_task_spawn(loop, play, &a, NULL, &ts[0]), 0);
  assert_int_equal(coio_task_spawn(loop, play, &b, NULL, &ts[1]), 0);
  assert_int_equal(coio_gather(loop, ts, 2, 0, &all), 0);
  assert_int_equal(run_until(loop, all), 0);
  assert_string_equal(pp.log, "ababab");
  coio_future_unref(all);
  coio_future_unref(ts[0]);
  coio_future_unref(ts[1]);
  test_loop_free(loop);
}

/* ---- current task and names ---------------------------------------------------- */

static int who_am_i(void *arg, void **result) {
  (void)arg;
  *result = coio_task_current();
  return 0;
}

static void current_task_and_names(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_t *t, *u;
  coio_task_options_t o;
  void *v;
  (void)state;
  memset(&o, 0, sizeof o);
  assert_null(coio_task_current());
  o.name = "worker";
  assert_int_equal(coio_task_spawn(loop, who_am_i, NULL, &o, &t), 0);
  assert_string_equal(coio_task_name(t), "worker");
  assert_int_equal(coio_task_spawn(loop, who_am_i, NULL, NULL, &u), 0);
  assert_non_null(strstr(coio_task_name(u), "Task-"));
  assert_int_equal(coio_task_set_name(u, "renamed"), 0);
  assert_string_equal(coio_task_name(u), "renamed");
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(coio_future_result(t, &v), 0);
  assert_ptr_equal(v, t);
  assert_null(coio_task_current());
  assert_int_equal(run_until(loop, u), 0);
  coio_future_unref(t);
  coio_future_unref(u);
  test_loop_free(loop);
}

/* ---- cancellation ------------------------------------------------------------------ */

typedef struct victim {
  int started;
  int await_rc;
  int second_rc;
  int swallow; /* return 0 after the cancel */
  int await_again; /* clean up by awaiting something else */
  coio_future_t *fut;
} victim_t;

static int victim_sleeps(void *arg, void **result) {
  victim_t *v = arg;
  (void)result;
  v->started = 1;
  v->await_rc = coio_sleep(30);
  if (v->await_again)
    v->second_rc = coio_sleep(0.01); /* cleanup that awaits */
  return v->swallow ? 0 : v->await_rc;
}

static int victim_awaits(void *arg, void **result) {
  victim_t *v = arg;
  (void)result;
  v->started = 1;
  v->await_rc = coio_await(v->fut);
  return v->await_rc;
}

static void cancel_before_the_first_step_never_runs_the_body(void **state) {
  coio_loop_t *loop = test_loop_new();
  victim_t v;
  coio_task_t *t;
  (void)state;
  memset(&v, 0, sizeof v);
  assert_int_equal(coio_task_spawn(loop, victim_sleeps, &v, NULL, &t), 0);
  assert_int_equal(coio_task_cancel(t, "early"), 0);
  assert_int_equal(coio_task_cancelling(t), 1);
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_int_equal(v.started, 0);
  assert_true(coio_future_cancelled(t));
  assert_string_equal(coio_future_message(t), "early");
  coio_future_unref(t);
  test_loop_free(loop);
}

static void cancel_wakes_a_sleeping_task(void **state) {
  coio_loop_t *loop = test_loop_new();
  victim_t v;
  coio_task_t *t;
  (void)state;
  memset(&v, 0, sizeof v);
  assert_int_equal(coio_task_spawn(loop, victim_sleeps, &v, NULL, &t), 0);
  /* let it start and block in its 30 s sleep */
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(v.started, 1);
  assert_int_equal(coio_task_cancel(t, "stop sleeping"), 0);
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_int_equal(v.await_rc, COIO_ECANCELED);
  assert_string_equal(coio_future_message(t), "stop sleeping");
  /* after completion: a further cancel is refused */
  assert_int_equal(coio_task_cancel(t, NULL), COIO_EINVALSTATE);
  coio_future_unref(t);
  test_loop_free(loop);
}

static void cancel_cancels_the_awaited_future(void **state) {
  coio_loop_t *loop = test_loop_new();
  victim_t v;
  coio_task_t *t;
  (void)state;
  memset(&v, 0, sizeof v);
  assert_int_equal(coio_future_new(loop, &v.fut), 0);
  assert_int_equal(coio_task_spawn(loop, victim_awaits, &v, NULL, &t), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(v.started, 1);
  assert_int_equal(coio_task_cancel(t, "bye"), 0);
  assert_true(coio_future_cancelled(v.fut)); /* at once, as asyncio */
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_int_equal(v.await_rc, COIO_ECANCELED);
  coio_future_unref(v.fut);
  coio_future_unref(t);
  test_loop_free(loop);
}

static void a_task_may_clean_up_with_awaits_then_end_cancelled(void **state) {
  coio_loop_t *loop = test_loop_new();
  victim_t v;
  coio_task_t *t;
  (void)state;
  memset(&v, 0, sizeof v);
  v.await_again = 1;
  assert_int_equal(coio_task_spawn(loop, victim_sleeps, &v, NULL, &t), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_task_cancel(t, NULL), 0);
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_int_equal(v.await_rc, COIO_ECANCELED);
  assert_int_equal(v.second_rc, 0); /* the cleanup's own await worked */
  coio_future_unref(t);
  test_loop_free(loop);
}

static void a_swallowed_cancel_ends_normally(void **state) {
  coio_loop_t *loop = test_loop_new();
  victim_t v;
  coio_task_t *t;
  (void)state;
  memset(&v, 0, sizeof v);
  v.swallow = 1;
  assert_int_equal(coio_task_spawn(loop, victim_sleeps, &v, NULL, &t), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_task_cancel(t, NULL), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_false(coio_future_cancelled(t));
  assert_int_equal(coio_task_cancelling(t), 1); /* never withdrawn */
  coio_future_unref(t);
  test_loop_free(loop);
}

static void cancelling_twice_counts_and_uncancel_withdraws(void **state) {
  coio_loop_t *loop = test_loop_new();
  victim_t v;
  coio_task_t *t;
  (void)state;
  memset(&v, 0, sizeof v);
  assert_int_equal(coio_task_spawn(loop, victim_sleeps, &v, NULL, &t), 0);
  assert_int_equal(coio_task_cancel(t, "one"), 0);
  assert_int_equal(coio_task_cancel(t, "two"), 0);
  assert_int_equal(coio_task_cancelling(t), 2);
  assert_int_equal(coio_task_uncancel(t), 1);
  assert_int_equal(coio_task_uncancel(t), 0);
  /* all requests withdrawn before the first step: the task runs */
  assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(v.started, 1);
  assert_int_equal(coio_task_uncancel(t), 0); /* never below zero */
  assert_int_equal(coio_task_cancel(t, "two"), 0);
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_string_equal(coio_future_message(t), "two"); /* the last message */
  coio_future_unref(t);
  test_loop_free(loop);
}

static int cancel_self(void *arg, void **result) {
  int *rc = arg;
  (void)result;
  assert_int_equal(coio_task_cancel(coio_task_current(), "self"), 0);
  rc[0] = 1; /* still running after the request */
  rc[1] = coio_sleep(0);
  return 0; /* returns normally: must_cancel was consumed by the sleep */
}

static int cancel_self_then_return(void *arg, void **result) {
  (void)arg;
  (void)result;
  coio_task_cancel(coio_task_current(), "late");
  return 0; /* asyncio: cancelled right before the coroutine stops */
}

static void a_task_can_cancel_itself(void **state) {
  coio_loop_t *loop = test_loop_new();
  int rc[2] = {0, 0};
  coio_task_t *t;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, cancel_self, rc, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(rc[0], 1);
  assert_int_equal(rc[1], COIO_ECANCELED);
  coio_future_unref(t);
  assert_int_equal(coio_task_spawn(loop, cancel_self_then_return, NULL, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), COIO_ECANCELED);
  assert_string_equal(coio_future_message(t), "late");
  coio_future_unref(t);
  test_loop_free(loop);
}

/* A cancel that arrives when the awaited future is already done but the
 * task has not resumed yet must still be delivered. */
typedef struct race {
  coio_future_t *fut;
  coio_task_t *task;
  int await_rc;
} race_t;

static int race_waiter(void *arg, void **result) {
  race_t *r = arg;
  (void)result;
  r->await_rc = coio_await(r->fut);
  return r->await_rc; /* propagates the cancel, as an uncaught CancelledError */
}

static void resolve_then_cancel(coio_loop_t *loop, void *arg) {
  race_t *r = arg;
  (void)loop;
  coio_future_set_result(r->fut, NULL, NULL); /* schedules the wake-up */
  assert_int_equal(coio_task_cancel(r->task, NULL), 0);
}

static void a_cancel_after_the_awaited_future_completed_is_delivered(void **state) {
  coio_loop_t *loop = test_loop_new();
  race_t r;
  (void)state;
  memset(&r, 0, sizeof r);
  assert_int_equal(coio_future_new(loop, &r.fut), 0);
  assert_int_equal(coio_task_spawn(loop, race_waiter, &r, NULL, &r.task), 0);
  assert_int_equal(coio_call_later(loop, 0.01, resolve_then_cancel, &r, NULL), 0);
  assert_int_equal(run_until(loop, r.task), COIO_ECANCELED);
  assert_int_equal(r.await_rc, COIO_ECANCELED);
  coio_future_unref(r.fut);
  coio_future_unref(r.task);
  test_loop_free(loop);
}

/* ---- context values ------------------------------------------------------------- */

typedef struct ctxtest {
  coio_context_var_t *var;
  void *seen_in_child;
  void *seen_after_child;
} ctxtest_t;

static int ctx_child(void *arg, void **result) {
  ctxtest_t *c = arg;
  (void)result;
  c->seen_in_child = coio_context_var_get(c->var);
  coio_context_var_set(c->var, (void *)"child's"); /* not seen by the parent */
  return 0;
}

static int ctx_parent(void *arg, void **result) {
  ctxtest_t *c = arg;
  coio_task_t *t;
  int rc;
  (void)result;
  assert_ptr_equal(coio_context_var_get(c->var), (void *)"default");
  assert_int_equal(coio_context_var_set(c->var, (void *)"parent's"), 0);
  if ((rc = coio_task_spawn(coio_future_loop(coio_task_current()), ctx_child, c, NULL, &t)) != 0)
    return rc;
  rc = coio_await(t);
  coio_future_unref(t);
  c->seen_after_child = coio_context_var_get(c->var);
  assert_int_equal(coio_context_var_reset(c->var), 0);
  assert_ptr_equal(coio_context_var_get(c->var), (void *)"default");
  return rc;
}

static void context_values_are_inherited_as_copies(void **state) {
  coio_loop_t *loop = test_loop_new();
  ctxtest_t c;
  coio_task_t *t;
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_context_var_new(&c.var, "request_id", (void *)"default"), 0);
  assert_string_equal(coio_context_var_name(c.var), "request_id");
  assert_ptr_equal(coio_context_var_get(c.var), (void *)"default");
  assert_int_equal(coio_context_var_set(c.var, (void *)"x"), COIO_ENOTASK);
  assert_int_equal(coio_task_spawn(loop, ctx_parent, &c, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_ptr_equal(c.seen_in_child, (void *)"parent's");
  assert_ptr_equal(c.seen_after_child, (void *)"parent's");
  coio_future_unref(t);
  coio_context_var_free(c.var);
  test_loop_free(loop);
}

/* ---- coio_run ------------------------------------------------------------------------ */

static int background(void *arg, void **result) {
  int *cancelled = arg;
  (void)result;
  if (coio_sleep(30) == COIO_ECANCELED)
    (*cancelled)++;
  return COIO_ECANCELED;
}

static int run_main(void *arg, void **result) {
  int *cancelled = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  assert_int_equal(coio_task_spawn(loop, background, cancelled, NULL, NULL), 0);
  assert_int_equal(coio_task_spawn(loop, background, cancelled, NULL, NULL), 0);
  coio_sleep(0.01);
  *result = (void *)"main's result";
  return 0;
}

static void coio_run_runs_main_and_cancels_the_rest(void **state) {
  coio_loop_options_t o;
  int cancelled = 0;
  void *v = NULL;
  (void)state;
  memset(&o, 0, sizeof o);
  o.backend = coio_test_backend;
  assert_int_equal(coio_run(run_main, &cancelled, &o, &v), 0);
  assert_string_equal((const char *)v, "main's result");
  assert_int_equal(cancelled, 2);
  assert_int_equal(coio_run(fail_with, (void *)(intptr_t)COIO_EIO, &o, NULL), COIO_EIO);
  assert_int_equal(coio_run(NULL, NULL, &o, NULL), COIO_EINVAL);
}

/* ---- bad input -------------------------------------------------------------------------- */

static int await_own(void *arg, void **result) {
  (void)arg;
  (void)result;
  return coio_await(coio_task_current());
}

static void bad_input_gives_error_codes(void **state) {
  coio_loop_t *loop = test_loop_new(), *other = test_loop_new();
  coio_future_t *f;
  coio_task_t *t;
  coio_task_options_t o;
  (void)state;
  memset(&o, 0, sizeof o);
  assert_int_equal(coio_future_new(other, &f), 0);
  /* outside a task */
  assert_int_equal(coio_await(f), COIO_ENOTASK);
  assert_int_equal(coio_sleep(1), COIO_ENOTASK);
  assert_int_equal(coio_task_error(COIO_EIO, "x"), COIO_EIO);
  /* spawn */
  assert_int_equal(coio_task_spawn(NULL, return_arg, NULL, NULL, &t), COIO_EINVAL);
  assert_int_equal(coio_task_spawn(loop, NULL, NULL, NULL, &t), COIO_EINVAL);
  assert_null(t);
  o.stack_size = (size_t)1 << 40;
  assert_int_equal(coio_task_spawn(loop, return_arg, NULL, &o, &t), COIO_EINVAL);
  /* not tasks */
  assert_int_equal(coio_task_cancel(f, NULL), COIO_EINVAL);
  assert_int_equal(coio_task_cancel(NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_task_uncancel(f), COIO_EINVAL);
  assert_int_equal(coio_task_cancelling(f), 0);
  assert_null(coio_task_name(f));
  assert_false(coio_is_task(f));
  assert_false(coio_is_task(NULL));
  /* awaiting itself */
  assert_int_equal(coio_task_spawn(loop, await_own, NULL, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), COIO_EINVAL);
  coio_future_unref(t);
  coio_future_unref(f);
  test_loop_free(other);
  /* closed loop */
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(coio_task_spawn(loop, return_arg, NULL, NULL, &t), COIO_ECLOSED);
  test_loop_free(loop);
}

typedef struct bad_await {
  coio_future_t *foreign;
  int rc_foreign, rc_null, rc_sleep_neg, rc_sleep_nan;
} bad_await_t;

static int do_bad_awaits(void *arg, void **result) {
  bad_await_t *b = arg;
  double zero = 0.0;
  (void)result;
  b->rc_foreign = coio_await(b->foreign);
  b->rc_null = coio_await(NULL);
  b->rc_sleep_neg = coio_sleep(-1);
  b->rc_sleep_nan = coio_sleep(zero / zero);
  return 0;
}

static void bad_awaits_inside_a_task(void **state) {
  coio_loop_t *loop = test_loop_new(), *other = test_loop_new();
  bad_await_t b;
  coio_task_t *t;
  (void)state;
  memset(&b, 0, sizeof b);
  assert_int_equal(coio_future_new(other, &b.foreign), 0);
  assert_int_equal(coio_task_spawn(loop, do_bad_awaits, &b, NULL, &t), 0);
  assert_int_equal(run_until(loop, t), 0);
  assert_int_equal(b.rc_foreign, COIO_EINVAL);
  assert_int_equal(b.rc_null, COIO_EINVAL);
  assert_int_equal(b.rc_sleep_neg, COIO_EINVAL);
  assert_int_equal(b.rc_sleep_nan, COIO_EINVAL);
  coio_future_unref(t);
  coio_future_unref(b.foreign);
  test_loop_free(other);
  test_loop_free(loop);
}

static int block_forever(void *arg, void **result) {
  (void)arg;
  (void)result;
  return coio_sleep(1000);
}

static void closing_a_loop_with_pending_tasks_ends_them(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_t *t;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, block_forever, NULL, NULL, &t), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(coio_loop_close(loop), 0);
  assert_true(coio_future_cancelled(t));
  coio_future_unref(t); /* no leak (LeakSanitizer), no crash */
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_task_returns_its_value_or_its_error),
    cmocka_unit_test(await_suspends_until_the_future_is_done),
    cmocka_unit_test(tasks_await_tasks),
    cmocka_unit_test(sleep_suspends_for_at_least_its_time),
    cmocka_unit_test(sleep_zero_yields_to_other_tasks),
    cmocka_unit_test(current_task_and_names),
    cmocka_unit_test(cancel_before_the_first_step_never_runs_the_body),
    cmocka_unit_test(cancel_wakes_a_sleeping_task),
    cmocka_unit_test(cancel_cancels_the_awaited_future),
    cmocka_unit_test(a_task_may_clean_up_with_awaits_then_end_cancelled),
    cmocka_unit_test(a_swallowed_cancel_ends_normally),
    cmocka_unit_test(cancelling_twice_counts_and_uncancel_withdraws),
    cmocka_unit_test(a_task_can_cancel_itself),
    cmocka_unit_test(a_cancel_after_the_awaited_future_completed_is_delivered),
    cmocka_unit_test(context_values_are_inherited_as_copies),
    cmocka_unit_test(coio_run_runs_main_and_cancels_the_rest),
    cmocka_unit_test(bad_input_gives_error_codes),
    cmocka_unit_test(bad_awaits_inside_a_task),
    cmocka_unit_test(closing_a_loop_with_pending_tasks_ends_them),
};

TEST_MAIN("task", tests)
