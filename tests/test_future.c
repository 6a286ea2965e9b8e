/* tests/test_future.c - the future state machine, results and errors,
 * cancellation with a message, done callbacks (scheduled, never run inside
 * the completing call; in order; removable), reference counting. Runs once
 * per backend. */
#include <string.h>

#include "harness.h"

typedef struct calls {
  int order[16];
  int n;
  coio_future_state_t seen_state;
} calls_t;

typedef struct tag {
  calls_t *calls;
  int id;
} tag_t;

static void on_done(coio_future_t *fut, void *arg) {
  tag_t *t = arg;
  t->calls->order[t->calls->n++] = t->id;
  t->calls->seen_state = coio_future_state(fut);
}

static void run_a_little(coio_loop_t *loop) {
  /* Two iterations: enough for callbacks scheduled now and the ones they
   * schedule. */
  assert_int_equal(coio_call_soon(loop, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
}

static void state_machine(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  void *v = (void *)1;
  (void)state;
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_ptr_equal(coio_future_loop(f), loop);
  assert_int_equal(coio_future_state(f), COIO_FUTURE_PENDING);
  assert_int_equal(coio_future_done(f), 0);
  assert_int_equal(coio_future_result(f, &v), COIO_EINVALSTATE);
  assert_null(v);
  assert_null(coio_future_message(f));
  assert_int_equal(coio_future_set_result(f, (void *)"x", NULL), 0);
  assert_int_equal(coio_future_state(f), COIO_FUTURE_DONE);
  assert_int_equal(coio_future_done(f), 1);
  assert_int_equal(coio_future_cancelled(f), 0);
  assert_int_equal(coio_future_result(f, &v), 0);
  assert_string_equal((const char *)v, "x");
  /* done is final */
  assert_int_equal(coio_future_set_result(f, NULL, NULL), COIO_EINVALSTATE);
  assert_int_equal(coio_future_set_error(f, COIO_EIO, NULL), COIO_EINVALSTATE);
  assert_int_equal(coio_future_cancel(f, NULL), COIO_EINVALSTATE);
  assert_int_equal(coio_future_state(f), COIO_FUTURE_DONE);
  coio_future_unref(f);
  test_loop_free(loop);
}

static void errors_carry_code_and_message(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  void *v = (void *)1;
  (void)state;
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_set_error(f, 0, "x"), COIO_EINVAL);
  assert_int_equal(coio_future_set_error(f, 5, "x"), COIO_EINVAL);
  assert_int_equal(coio_future_set_error(f, COIO_ECANCELED, "x"), COIO_EINVAL);
  assert_int_equal(coio_future_done(f), 0);
  assert_int_equal(coio_future_set_error(f, COIO_ETIMEDOUT, "too slow"), 0);
  assert_int_equal(coio_future_result(f, &v), COIO_ETIMEDOUT);
  assert_null(v);
  assert_string_equal(coio_future_message(f), "too slow");
  assert_int_equal(coio_future_cancel(f, NULL), COIO_EINVALSTATE);
  coio_future_unref(f);
  /* no message */
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_set_error(f, COIO_EIO, NULL), 0);
  assert_null(coio_future_message(f));
  coio_future_unref(f);
  test_loop_free(loop);
}

static void cancel_keeps_its_message(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  char msg[32];
  (void)state;
  strcpy(msg, "shutting down");
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_cancel(f, msg), 0);
  msg[0] = 'X'; /* the message was copied */
  assert_int_equal(coio_future_state(f), COIO_FUTURE_CANCELLED);
  assert_int_equal(coio_future_cancelled(f), 1);
  assert_int_equal(coio_future_done(f), 1);
  assert_int_equal(coio_future_result(f, NULL), COIO_ECANCELED);
  assert_string_equal(coio_future_message(f), "shutting down");
  assert_int_equal(coio_future_cancel(f, "again"), COIO_EINVALSTATE);
  assert_int_equal(coio_future_set_result(f, NULL, NULL), COIO_EINVALSTATE);
  coio_future_unref(f);
  test_loop_free(loop);
}

static void callbacks_are_scheduled_not_called_and_keep_order(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  calls_t c;
  tag_t t[4];
  int i;
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_future_new(loop, &f), 0);
  for (i = 0; i < 3; i++) {
    t[i].calls = &c;
    t[i].id = i;
    assert_int_equal(coio_future_add_done_callback(f, on_done, &t[i]), 0);
  }
  assert_int_equal(coio_future_set_result(f, NULL, NULL), 0);
  assert_int_equal(c.n, 0); /* never inside set_result */
  run_a_little(loop);
  assert_int_equal(c.n, 3);
  for (i = 0; i < 3; i++)
    assert_int_equal(c.order[i], i);
  assert_int_equal(c.seen_state, COIO_FUTURE_DONE);
  /* Added after done: scheduled at once, still not called synchronously. */
  t[3].calls = &c;
  t[3].id = 3;
  assert_int_equal(coio_future_add_done_callback(f, on_done, &t[3]), 0);
  assert_int_equal(c.n, 3);
  run_a_little(loop);
  assert_int_equal(c.n, 4);
  assert_int_equal(c.order[3], 3);
  coio_future_unref(f);
  test_loop_free(loop);
}

static void cancel_runs_the_callbacks_too(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  calls_t c;
  tag_t t = {&c, 9};
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_add_done_callback(f, on_done, &t), 0);
  assert_int_equal(coio_future_cancel(f, NULL), 0);
  assert_int_equal(c.n, 0);
  run_a_little(loop);
  assert_int_equal(c.n, 1);
  assert_int_equal(c.seen_state, COIO_FUTURE_CANCELLED);
  coio_future_unref(f);
  test_loop_free(loop);
}

static void remove_done_callback_removes_every_match(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  calls_t c;
  tag_t a = {&c, 1}, b = {&c, 2};
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_add_done_callback(f, on_done, &a), 0);
  assert_int_equal(coio_future_add_done_callback(f, on_done, &b), 0);
  assert_int_equal(coio_future_add_done_callback(f, on_done, &a), 0);
  assert_int_equal(coio_future_remove_done_callback(f, on_done, &a), 2);
  assert_int_equal(coio_future_remove_done_callback(f, on_done, &a), 0);
  assert_int_equal(coio_future_remove_done_callback(f, NULL, &a), COIO_EINVAL);
  assert_int_equal(coio_future_set_result(f, NULL, NULL), 0);
  run_a_little(loop);
  assert_int_equal(c.n, 1);
  assert_int_equal(c.order[0], 2);
  /* After completion the callbacks are already scheduled: nothing to remove. */
  assert_int_equal(coio_future_remove_done_callback(f, on_done, &b), 0);
  coio_future_unref(f);
  test_loop_free(loop);
}

static int dtor_calls;
static void count_dtor(void *v) {
  assert_ptr_equal(v, &dtor_calls);
  dtor_calls++;
}

static void a_callback_keeps_its_future_alive(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  calls_t c;
  tag_t t = {&c, 1};
  (void)state;
  memset(&c, 0, sizeof c);
  dtor_calls = 0;
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_add_done_callback(f, on_done, &t), 0);
  assert_int_equal(coio_future_set_result(f, &dtor_calls, count_dtor), 0);
  coio_future_unref(f); /* the scheduled callback still holds a reference */
  assert_int_equal(dtor_calls, 0);
  run_a_little(loop);
  assert_int_equal(c.n, 1);
  assert_int_equal(c.seen_state, COIO_FUTURE_DONE);
  assert_int_equal(dtor_calls, 1); /* freed after its last callback */
  test_loop_free(loop);
}

static void ref_and_unref(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  (void)state;
  dtor_calls = 0;
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_ptr_equal(coio_future_ref(f), f);
  assert_int_equal(coio_future_set_result(f, &dtor_calls, count_dtor), 0);
  coio_future_unref(f);
  assert_int_equal(dtor_calls, 0);
  coio_future_unref(f);
  assert_int_equal(dtor_calls, 1);
  coio_future_unref(NULL);
  assert_null(coio_future_ref(NULL));
  test_loop_free(loop);
}

static void closing_the_loop_releases_scheduled_callbacks(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f;
  calls_t c;
  tag_t t = {&c, 1};
  (void)state;
  memset(&c, 0, sizeof c);
  dtor_calls = 0;
  assert_int_equal(coio_future_new(loop, &f), 0);
  assert_int_equal(coio_future_add_done_callback(f, on_done, &t), 0);
  assert_int_equal(coio_future_set_result(f, &dtor_calls, count_dtor), 0);
  coio_future_unref(f);
  /* Never run: the close drops the callback and its reference (no leak
   * under LeakSanitizer, no call). */
  test_loop_free(loop);
  assert_int_equal(c.n, 0);
  assert_int_equal(dtor_calls, 1);
}

static void null_futures_give_error_codes(void **state) {
  (void)state;
  assert_int_equal(coio_future_set_result(NULL, NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_future_set_error(NULL, COIO_EIO, NULL), COIO_EINVAL);
  assert_int_equal(coio_future_cancel(NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_future_result(NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_future_add_done_callback(NULL, on_done, NULL), COIO_EINVAL);
  assert_int_equal(coio_future_remove_done_callback(NULL, on_done, NULL), COIO_EINVAL);
  assert_int_equal(coio_future_done(NULL), 0);
  assert_null(coio_future_loop(NULL));
  assert_null(coio_future_message(NULL));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(state_machine),
    cmocka_unit_test(errors_carry_code_and_message),
    cmocka_unit_test(cancel_keeps_its_message),
    cmocka_unit_test(callbacks_are_scheduled_not_called_and_keep_order),
    cmocka_unit_test(cancel_runs_the_callbacks_too),
    cmocka_unit_test(remove_done_callback_removes_every_match),
    cmocka_unit_test(a_callback_keeps_its_future_alive),
    cmocka_unit_test(ref_and_unref),
    cmocka_unit_test(closing_the_loop_releases_scheduled_callbacks),
    cmocka_unit_test(null_futures_give_error_codes),
};

TEST_MAIN("future", tests)
