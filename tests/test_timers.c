/* tests/test_timers.c - call_later / call_at: order, never early, equal
 * deadlines in scheduling order, cancellation before and after running,
 * 100,000 timers. Runs once per backend. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

typedef struct fired {
  int order[64];
  int n;
} fired_t;

typedef struct timer {
  fired_t *log;
  int id;
  double due; /* loop time it was scheduled for */
  double at;  /* loop time it ran */
  int runs;
} timer_t_;

static void on_timer(coio_loop_t *loop, void *arg) {
  timer_t_ *t = arg;
  t->at = coio_loop_time(loop);
  t->runs++;
  t->log->order[t->log->n++] = t->id;
}

static void timers_fire_in_deadline_order_and_never_early(void **state) {
  coio_loop_t *loop = test_loop_new();
  static const double delays[] = {0.05, 0.01, 0.03, 0.0, 0.02, 0.04, 0.001};
  static const int expect[] = {3, 6, 1, 4, 2, 5, 0};
  fired_t log;
  timer_t_ t[7];
  int i;
  (void)state;
  memset(&log, 0, sizeof log);
  for (i = 0; i < 7; i++) {
    t[i].log = &log;
    t[i].id = i;
    t[i].runs = 0;
    t[i].due = coio_loop_time(loop) + delays[i];
    assert_int_equal(coio_call_later(loop, delays[i], on_timer, &t[i], NULL), 0);
  }
  assert_int_equal(coio_call_later(loop, 0.06, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(log.n, 7);
  for (i = 0; i < 7; i++) {
    assert_int_equal(log.order[i], expect[i]);
    assert_int_equal(t[i].runs, 1);
    /* due was read before scheduling, so it is <= the real deadline */
    assert_true(t[i].at >= t[i].due);
  }
  test_loop_free(loop);
}

static void equal_deadlines_keep_scheduling_order(void **state) {
  coio_loop_t *loop = test_loop_new();
  fired_t log;
  timer_t_ t[20];
  double when = coio_loop_time(loop) + 0.02;
  int i;
  (void)state;
  memset(&log, 0, sizeof log);
  for (i = 0; i < 20; i++) {
    t[i].log = &log;
    t[i].id = i;
    t[i].runs = 0;
    t[i].due = when;
    assert_int_equal(coio_call_at(loop, when, on_timer, &t[i], NULL), 0);
  }
  assert_int_equal(coio_call_at(loop, when, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(log.n, 20);
  for (i = 0; i < 20; i++) {
    assert_int_equal(log.order[i], i);
    assert_true(t[i].at >= when);
  }
  test_loop_free(loop);
}

static void a_time_in_the_past_runs_at_the_next_iteration(void **state) {
  coio_loop_t *loop = test_loop_new();
  fired_t log;
  timer_t_ t = {&log, 1, 0, 0, 0};
  (void)state;
  memset(&log, 0, sizeof log);
  assert_int_equal(coio_call_at(loop, coio_loop_time(loop) - 100, on_timer, &t, NULL), 0);
  assert_int_equal(coio_call_at(loop, -5, on_timer, &t, NULL), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(t.runs, 2);
  test_loop_free(loop);
}

static void cancel_before_and_after_running(void **state) {
  coio_loop_t *loop = test_loop_new();
  fired_t log;
  timer_t_ a = {&log, 1, 0, 0, 0}, b = {&log, 2, 0, 0, 0}, c = {&log, 3, 0, 0, 0};
  coio_handle_t ha, hb, hc, hd;
  (void)state;
  memset(&log, 0, sizeof log);
  assert_int_equal(coio_call_later(loop, 0.01, on_timer, &a, &ha), 0);
  assert_int_equal(coio_call_later(loop, 0.01, on_timer, &b, &hb), 0);
  assert_int_equal(coio_call_soon(loop, on_timer, &c, &hc), 0);
  assert_int_not_equal(ha.id, 0);
  assert_int_not_equal(ha.id, hb.id);
  /* cancel a pending timer and a pending call_soon */
  assert_int_equal(coio_handle_cancel(loop, hb), 0);
  assert_int_equal(coio_handle_cancel(loop, hb), COIO_ENOENT);
  assert_int_equal(coio_handle_cancel(loop, hc), 0);
  assert_int_equal(coio_call_later(loop, 0.02, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(a.runs, 1);
  assert_int_equal(b.runs, 0);
  assert_int_equal(c.runs, 0);
  /* cancel after it ran: harmless, even when the slot was reused since */
  assert_int_equal(coio_call_soon(loop, on_timer, &c, &hd), 0);
  assert_int_equal(coio_handle_cancel(loop, ha), COIO_ENOENT);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(c.runs, 1);
  assert_int_equal(coio_handle_cancel(loop, hd), COIO_ENOENT);
  test_loop_free(loop);
}

typedef struct canceller {
  coio_handle_t victim;
  int rc;
} canceller_t;

static void cancel_other(coio_loop_t *loop, void *arg) {
  canceller_t *c = arg;
  c->rc = coio_handle_cancel(loop, c->victim);
}

static void a_callback_cancels_one_in_the_same_batch(void **state) {
  coio_loop_t *loop = test_loop_new();
  fired_t log;
  timer_t_ v = {&log, 1, 0, 0, 0};
  canceller_t c;
  (void)state;
  memset(&log, 0, sizeof log);
  assert_int_equal(coio_call_soon(loop, cancel_other, &c, NULL), 0);
  assert_int_equal(coio_call_soon(loop, on_timer, &v, &c.victim), 0);
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(c.rc, 0);
  assert_int_equal(v.runs, 0);
  test_loop_free(loop);
}

/* ---- 100,000 timers -------------------------------------------------------- */

#define MANY 100000

typedef struct many {
  double *due;
  int fired;
  int early;
  int out_of_order;
  double last_due;
} many_t;

typedef struct many_timer {
  many_t *m;
  int idx;
} many_timer_t;

static void on_many(coio_loop_t *loop, void *arg) {
  many_timer_t *t = arg;
  many_t *m = t->m;
  double due = m->due[t->idx];
  if (coio_loop_time(loop) < due)
    m->early++;
  if (due < m->last_due)
    m->out_of_order++;
  m->last_due = due;
  if (++m->fired == MANY)
    coio_loop_stop(loop);
}

static void a_hundred_thousand_timers_all_fire_in_order(void **state) {
  coio_loop_t *loop = test_loop_new();
  many_t m;
  many_timer_t *ts = calloc(MANY, sizeof *ts);
  int i;
  unsigned r = 12345;
  double base;
  (void)state;
  memset(&m, 0, sizeof m);
  m.due = calloc(MANY, sizeof *m.due);
  assert_non_null(ts);
  assert_non_null(m.due);
  base = coio_loop_time(loop);
  for (i = 0; i < MANY; i++) {
    r = r * 1103515245u + 12345u;
    ts[i].m = &m;
    ts[i].idx = i;
    /* call_at with known deadlines in [0, 50) ms from base */
    m.due[i] = base + (double)((r >> 8) % 50000) / 1e6;
    assert_int_equal(coio_call_at(loop, m.due[i], on_many, &ts[i], NULL), 0);
  }
  assert_int_equal(test_run_bounded(loop, 60), 0);
  assert_int_equal(m.fired, MANY);
  assert_int_equal(m.early, 0);
  assert_int_equal(m.out_of_order, 0);
  free(ts);
  free(m.due);
  test_loop_free(loop);
}

static void cancelling_many_timers_leaves_the_rest(void **state) {
  coio_loop_t *loop = test_loop_new();
  many_t m;
  many_timer_t *ts = calloc(10000, sizeof *ts);
  coio_handle_t *hs = calloc(10000, sizeof *hs);
  int i;
  (void)state;
  memset(&m, 0, sizeof m);
  m.due = calloc(10000, sizeof *m.due);
  assert_non_null(ts);
  assert_non_null(hs);
  for (i = 0; i < 10000; i++) {
    ts[i].m = &m;
    ts[i].idx = i;
    m.due[i] = 0;
    assert_int_equal(coio_call_later(loop, 0.001 * (i % 20), on_many, &ts[i], &hs[i]), 0);
  }
  for (i = 0; i < 10000; i += 2)
    assert_int_equal(coio_handle_cancel(loop, hs[i]), 0);
  assert_int_equal(coio_call_later(loop, 0.05, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(m.fired, 5000);
  for (i = 0; i < 10000; i++)
    assert_int_equal(coio_handle_cancel(loop, hs[i]), COIO_ENOENT);
  free(ts);
  free(hs);
  free(m.due);
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(timers_fire_in_deadline_order_and_never_early),
    cmocka_unit_test(equal_deadlines_keep_scheduling_order),
    cmocka_unit_test(a_time_in_the_past_runs_at_the_next_iteration),
    cmocka_unit_test(cancel_before_and_after_running),
    cmocka_unit_test(a_callback_cancels_one_in_the_same_batch),
    cmocka_unit_test(a_hundred_thousand_timers_all_fire_in_order),
    cmocka_unit_test(cancelling_many_timers_leaves_the_rest),
};

TEST_MAIN("timers", tests)
