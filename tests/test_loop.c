/* tests/test_loop.c - loop lifecycle: call_soon order, stop / run_forever /
 * run_until_complete semantics, close while running, reuse, backend choice,
 * bad arguments, debug mode. Runs once per backend. */
#include <math.h>
#include <string.h>

#include "harness.h"

/* ---- call_soon is FIFO ---------------------------------------------------- */

typedef struct order {
  int seen[256];
  int n;
} order_t;

typedef struct step {
  order_t *order;
  int id;
} step_t;

static void record(coio_loop_t *loop, void *arg) {
  step_t *s = arg;
  (void)loop;
  s->order->seen[s->order->n++] = s->id;
}

static void call_soon_runs_in_fifo_order(void **state) {
  coio_loop_t *loop = test_loop_new();
  order_t order = {{0}, 0};
  step_t steps[200];
  int i;
  (void)state;
  for (i = 0; i < 200; i++) {
    steps[i].order = &order;
    steps[i].id = i;
    assert_int_equal(coio_call_soon(loop, record, &steps[i], NULL), 0);
  }
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(order.n, 0); /* nothing runs before the loop does */
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(order.n, 200);
  for (i = 0; i < 200; i++)
    assert_int_equal(order.seen[i], i);
  test_loop_free(loop);
}

/* ---- stop semantics ------------------------------------------------------ */

typedef struct stopper {
  order_t order;
  step_t later;
} stopper_t;

static void stop_and_schedule(coio_loop_t *loop, void *arg) {
  stopper_t *s = arg;
  assert_int_equal(coio_loop_stop(loop), 0);
  /* Scheduled during the stopping batch: must wait for the next run. */
  assert_int_equal(coio_call_soon(loop, record, &s->later, NULL), 0);
}

static void stop_finishes_the_batch_and_defers_new_callbacks(void **state) {
  coio_loop_t *loop = test_loop_new();
  stopper_t s;
  step_t after = {&s.order, 1};
  (void)state;
  memset(&s, 0, sizeof s);
  after.order = &s.order;
  s.later.order = &s.order;
  s.later.id = 2;
  assert_int_equal(coio_call_soon(loop, stop_and_schedule, &s, NULL), 0);
  assert_int_equal(coio_call_soon(loop, record, &after, NULL), 0); /* same batch: runs */
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(s.order.n, 1);
  assert_int_equal(s.order.seen[0], 1);
  assert_int_equal(coio_loop_is_running(loop), 0);
  /* The deferred callback runs at the next run. */
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(s.order.n, 2);
  assert_int_equal(s.order.seen[1], 2);
  test_loop_free(loop);
}

static void stop_before_run_runs_one_batch(void **state) {
  coio_loop_t *loop = test_loop_new();
  order_t order = {{0}, 0};
  step_t a = {&order, 7};
  (void)state;
  assert_int_equal(coio_call_soon(loop, record, &a, NULL), 0);
  assert_int_equal(coio_loop_stop(loop), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0); /* returns without blocking */
  assert_int_equal(order.n, 1);
  /* And with nothing scheduled, it still returns. */
  assert_int_equal(coio_loop_stop(loop), 0);
  assert_int_equal(coio_loop_run_forever(loop), 0);
  assert_int_equal(order.n, 1);
  test_loop_free(loop);
}

static void loop_can_run_again_after_stop(void **state) {
  coio_loop_t *loop = test_loop_new();
  order_t order = {{0}, 0};
  step_t steps[5];
  int i;
  (void)state;
  for (i = 0; i < 5; i++) {
    steps[i].order = &order;
    steps[i].id = i;
    assert_int_equal(coio_call_soon(loop, record, &steps[i], NULL), 0);
    assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
    assert_int_equal(test_run_bounded(loop, 10), 0);
    assert_int_equal(order.n, i + 1);
    assert_int_equal(order.seen[i], i);
  }
  test_loop_free(loop);
}

/* ---- running-state rules --------------------------------------------------- */

typedef struct inside {
  coio_future_t *fut;
  int checked;
} inside_t;

static void check_inside(coio_loop_t *loop, void *arg) {
  inside_t *in = arg;
  assert_int_equal(coio_loop_is_running(loop), 1);
  assert_int_equal(coio_loop_close(loop), COIO_EBUSY);
  assert_int_equal(coio_loop_free(loop), COIO_EBUSY);
  assert_int_equal(coio_loop_run_forever(loop), COIO_EBUSY);
  assert_int_equal(coio_loop_run_until_complete(loop, in->fut), COIO_EBUSY);
  assert_int_equal(coio_loop_is_closed(loop), 0);
  in->checked = 1;
  coio_loop_stop(loop);
}

static void close_and_nested_runs_are_refused_while_running(void **state) {
  coio_loop_t *loop = test_loop_new();
  inside_t in = {NULL, 0};
  (void)state;
  assert_int_equal(coio_future_new(loop, &in.fut), 0);
  assert_int_equal(coio_loop_is_running(loop), 0);
  assert_int_equal(coio_call_soon(loop, check_inside, &in, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(in.checked, 1);
  assert_int_equal(coio_loop_is_running(loop), 0);
  coio_future_unref(in.fut);
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(coio_loop_is_closed(loop), 1);
  assert_int_equal(coio_loop_close(loop), 0); /* idempotent */
  test_loop_free(loop);
}

/* ---- run_until_complete ------------------------------------------------------ */

static void resolve_later(coio_loop_t *loop, void *arg) {
  (void)loop;
  assert_int_equal(coio_future_set_result(arg, (void *)(uintptr_t)42, NULL), 0);
}

static void fail_later(coio_loop_t *loop, void *arg) {
  (void)loop;
  assert_int_equal(coio_future_set_error(arg, COIO_ECONNRESET, "peer went away"), 0);
}

static void cancel_later(coio_loop_t *loop, void *arg) {
  (void)loop;
  assert_int_equal(coio_future_cancel(arg, "no longer needed"), 0);
}

static void run_until_complete_returns_the_outcome(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  void *v = NULL;
  (void)state;

  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_call_later(loop, 0.01, resolve_later, f, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  assert_int_equal(coio_future_result(f, &v), 0);
  assert_int_equal((uintptr_t)v, 42);
  /* Already done: returns at once with the same outcome. */
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  coio_future_unref(f);

  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_call_soon(loop, fail_later, f, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), COIO_ECONNRESET);
  assert_string_equal(coio_future_message(f), "peer went away");
  coio_future_unref(f);

  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_call_soon(loop, cancel_later, f, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), COIO_ECANCELED);
  assert_string_equal(coio_future_message(f), "no longer needed");
  coio_future_unref(f);
  test_loop_free(loop);
}

static void run_until_complete_reports_an_early_stop(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  order_t order = {{0}, 0};
  step_t s = {&order, 1};
  (void)state;
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), COIO_ESTOPPED);
  assert_int_equal(coio_future_done(f), 0);
  /* The future's stop callback was removed: a later run is not stopped by it. */
  assert_int_equal(coio_future_set_result(f, NULL, NULL), 0);
  assert_int_equal(coio_call_soon(loop, record, &s, NULL), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(order.n, 1);
  coio_future_unref(f);
  test_loop_free(loop);
}

static void run_until_complete_refuses_a_future_of_another_loop(void **state) {
  coio_loop_t *a = test_loop_new(), *b = test_loop_new();
  coio_future_t *f;
  (void)state;
  assert_int_equal(coio_future_new(b, &f), 0);
  assert_int_equal(coio_loop_run_until_complete(a, f), COIO_EINVAL);
  assert_int_equal(coio_loop_run_until_complete(a, NULL), COIO_EINVAL);
  coio_future_unref(f);
  test_loop_free(a);
  test_loop_free(b);
}

/* ---- choosing the backend ---------------------------------------------------- */

static void the_loop_reports_its_backend_and_kind(void **state) {
  coio_loop_t *loop = test_loop_new();
  const char *names[8];
  size_t n = coio_backend_list(names, 8), i;
  int found = 0;
  (void)state;
  assert_string_equal(coio_loop_backend(loop), coio_test_backend);
  if (strcmp(coio_test_backend, "epoll") == 0)
    assert_int_equal(coio_loop_kind(loop), COIO_LOOP_SELECTOR);
  else
    assert_int_equal(coio_loop_kind(loop), COIO_LOOP_PROACTOR);
  for (i = 0; i < n && i < 8; i++)
    found |= strcmp(names[i], coio_test_backend) == 0;
  assert_true(found);
  test_loop_free(loop);
}

static void kinds_and_unknown_backends(void **state) {
  coio_loop_t *loop = NULL;
  coio_loop_options_t o;
  int rc;
  (void)state;
  memset(&o, 0, sizeof o);
  o.backend = "no-such-backend";
  assert_int_equal(coio_loop_new(&loop, &o), COIO_EINVAL);
  assert_null(loop);
  assert_int_equal(coio_backend_probe("no-such-backend"), COIO_EINVAL);
  o.backend = NULL;
  o.kind = (coio_loop_kind_t)17;
  assert_int_equal(coio_loop_new(&loop, &o), COIO_EINVAL);
  o.kind = COIO_LOOP_DEFAULT;
  o.slow_callback_duration = -1;
  assert_int_equal(coio_loop_new(&loop, &o), COIO_EINVAL);
  o.slow_callback_duration = 0;
  /* The default kind always finds a backend on a supported platform. */
  assert_int_equal(coio_loop_new(&loop, NULL), 0);
#ifdef _WIN32
  assert_int_equal(coio_loop_kind(loop), COIO_LOOP_PROACTOR);
#else
  assert_int_equal(coio_loop_kind(loop), COIO_LOOP_SELECTOR);
#endif
  test_loop_free(loop);
  /* A kind asked for explicitly is that kind, or a clear error. */
  o.kind = COIO_LOOP_PROACTOR;
  rc = coio_loop_new(&loop, &o);
  if (rc == 0) {
    assert_int_equal(coio_loop_kind(loop), COIO_LOOP_PROACTOR);
    test_loop_free(loop);
  } else {
    assert_int_equal(rc, COIO_ENOBACKEND);
  }
  o.kind = COIO_LOOP_SELECTOR;
  rc = coio_loop_new(&loop, &o);
  if (rc == 0) {
    assert_int_equal(coio_loop_kind(loop), COIO_LOOP_SELECTOR);
    test_loop_free(loop);
  } else {
    assert_int_equal(rc, COIO_ENOBACKEND);
  }
}

/* ---- bad arguments ----------------------------------------------------------- */

static void noop(coio_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
}

static void bad_arguments_give_error_codes(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_handle_t h = {0}, junk;
  coio_future_t *f = NULL;
  (void)state;
  assert_int_equal(coio_loop_new(NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_soon(NULL, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_soon(loop, NULL, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_later(NULL, 1, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_later(loop, -0.5, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_later(loop, NAN, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_later(loop, INFINITY, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_at(loop, NAN, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_at(NULL, 1, noop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_soon_threadsafe(NULL, noop, NULL), COIO_EINVAL);
  assert_int_equal(coio_call_soon_threadsafe(loop, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_handle_cancel(NULL, h), COIO_EINVAL);
  assert_int_equal(coio_handle_cancel(loop, h), COIO_ENOENT);
  junk.id = 0xdeadbeefcafef00dull;
  assert_int_equal(coio_handle_cancel(loop, junk), COIO_ENOENT);
  assert_int_equal(coio_loop_run_forever(NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_run_until_complete(NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_stop(NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_close(NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_free(NULL), 0);
  assert_int_equal(coio_loop_is_running(NULL), 0);
  assert_int_equal(coio_loop_set_debug(NULL, 1), COIO_EINVAL);
  assert_int_equal(coio_loop_set_slow_callback_duration(loop, 0), COIO_EINVAL);
  assert_int_equal(coio_loop_set_slow_callback_duration(loop, -1), COIO_EINVAL);
  assert_int_equal(coio_loop_set_slow_callback_duration(loop, NAN), COIO_EINVAL);
  assert_int_equal(coio_future_new(NULL, &f), COIO_EINVAL);
  assert_int_equal(coio_future_new(loop, NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_add_reader(NULL, 0, noop, NULL), COIO_EINVAL);
  assert_int_equal(coio_loop_add_reader(loop, COIO_INVALID_SOCKET, noop, NULL), COIO_EINVAL);
  test_loop_free(loop);
}

static void a_closed_loop_refuses_work(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f = NULL;
  coio_handle_t h;
  (void)state;
  /* Pending work is dropped by close, not run. */
  assert_int_equal(coio_call_later(loop, 0.01, noop, NULL, &h), 0);
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(coio_handle_cancel(loop, h), COIO_ENOENT);
  assert_int_equal(coio_call_soon(loop, noop, NULL, NULL), COIO_ECLOSED);
  assert_int_equal(coio_call_later(loop, 0.1, noop, NULL, NULL), COIO_ECLOSED);
  assert_int_equal(coio_call_at(loop, 0.1, noop, NULL, NULL), COIO_ECLOSED);
  assert_int_equal(coio_call_soon_threadsafe(loop, noop, NULL), COIO_ECLOSED);
  assert_int_equal(coio_loop_run_forever(loop), COIO_ECLOSED);
  assert_int_equal(coio_future_new(loop, &f), COIO_ECLOSED);
  assert_null(f);
  assert_int_equal(coio_loop_add_reader(loop, 0, noop, NULL), COIO_ECLOSED);
  assert_int_equal(coio_loop_remove_reader(loop, 0), COIO_ECLOSED);
  assert_int_equal(coio_loop_stop(loop), 0);
  assert_int_equal(coio_loop_is_closed(loop), 1);
  test_loop_free(loop);
}

/* ---- debug mode ---------------------------------------------------------------- */

typedef struct warnings {
  int count;
  char last[512];
} warnings_t;

static void collect_warning(coio_loop_t *loop, const char *msg, void *arg) {
  warnings_t *w = arg;
  (void)loop;
  w->count++;
  strncpy(w->last, msg, sizeof w->last - 1);
}

static void slow_callback(coio_loop_t *loop, void *arg) {
  /* Busy for 20 ms of loop time: the behaviour under test, not a sync wait. */
  double end = coio_loop_time(loop) + 0.02;
  (void)arg;
  while (coio_loop_time(loop) < end)
    ;
}

static void debug_mode_reports_slow_callbacks(void **state) {
  coio_loop_t *loop = test_loop_new();
  warnings_t w;
  (void)state;
  memset(&w, 0, sizeof w);
  assert_int_equal(coio_loop_set_warning_handler(loop, collect_warning, &w), 0);
  assert_int_equal(coio_loop_set_slow_callback_duration(loop, 0.01), 0);
  /* Not in debug mode: nothing is reported. */
  assert_int_equal(coio_call_soon(loop, slow_callback, NULL, NULL), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(w.count, 0);
  assert_int_equal(coio_loop_set_debug(loop, 1), 0);
  assert_int_equal(coio_loop_get_debug(loop), 1);
  assert_int_equal(coio_call_soon(loop, noop, NULL, NULL), 0);
  assert_int_equal(coio_call_soon(loop, slow_callback, NULL, NULL), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(w.count, 1); /* the slow one only */
  assert_non_null(strstr(w.last, "took"));
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(call_soon_runs_in_fifo_order),
    cmocka_unit_test(stop_finishes_the_batch_and_defers_new_callbacks),
    cmocka_unit_test(stop_before_run_runs_one_batch),
    cmocka_unit_test(loop_can_run_again_after_stop),
    cmocka_unit_test(close_and_nested_runs_are_refused_while_running),
    cmocka_unit_test(run_until_complete_returns_the_outcome),
    cmocka_unit_test(run_until_complete_reports_an_early_stop),
    cmocka_unit_test(run_until_complete_refuses_a_future_of_another_loop),
    cmocka_unit_test(the_loop_reports_its_backend_and_kind),
    cmocka_unit_test(kinds_and_unknown_backends),
    cmocka_unit_test(bad_arguments_give_error_codes),
    cmocka_unit_test(a_closed_loop_refuses_work),
    cmocka_unit_test(debug_mode_reports_slow_callbacks),
};

TEST_MAIN("loop", tests)
