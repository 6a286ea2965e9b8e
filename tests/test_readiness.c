/* tests/test_readiness.c - add_reader / add_writer on socket pairs: data
 * arrives, level-triggered re-reporting, removal (also of a callback already
 * queued in the same batch), replacement, EOF, many fds. Runs once per
 * backend; a backend without readiness must say COIO_ENOTSUP. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Skips the test (loudly) when the backend has no readiness; that answer is
 * only acceptable from a proactor backend. */
static int readiness_or_skip(coio_loop_t *loop, coio_socket_t fd) {
  int rc = coio_loop_add_reader(loop, fd, test_stop_cb, NULL);
  if (rc == COIO_ENOTSUP) {
    assert_int_equal(coio_loop_kind(loop), COIO_LOOP_PROACTOR);
    print_message("SKIP: %s has no readiness API (COIO_ENOTSUP)\n", coio_loop_backend(loop));
    return 0;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(coio_loop_remove_reader(loop, fd), 0);
  return 1;
}

#define SKIP_WITHOUT_READINESS(loop, fd, pair)  \
  do {                                           \
    if (!readiness_or_skip(loop, fd)) {          \
      coio_socket_close((pair)[0]);              \
      coio_socket_close((pair)[1]);              \
      test_loop_free(loop);                      \
      skip();                                    \
    }                                            \
  } while (0)

typedef struct reader {
  coio_socket_t fd;
  char buf[256];
  size_t len;
  int calls;
  int per_call; /* bytes to read per call */
  int eof;
  int stop_at; /* stop the loop once len reaches this (0: never) */
} reader_t;

static void on_readable(coio_loop_t *loop, void *arg) {
  reader_t *r = arg;
  long n;
  r->calls++;
  n = coio_socket_recv(r->fd, r->buf + r->len, (size_t)r->per_call);
  if (n == 0) {
    r->eof = 1;
    coio_loop_remove_reader(loop, r->fd);
    coio_loop_stop(loop);
    return;
  }
  if (n > 0)
    r->len += (size_t)n;
  if (r->stop_at && r->len >= (size_t)r->stop_at) {
    assert_int_equal(coio_loop_remove_reader(loop, r->fd), 0);
    coio_loop_stop(loop);
  }
}

typedef struct writer_job {
  coio_socket_t fd;
  const char *data;
} writer_job_t;

static void write_now(coio_loop_t *loop, void *arg) {
  writer_job_t *w = arg;
  (void)loop;
  assert_int_equal(coio_socket_send(w->fd, w->data, strlen(w->data)), (long)strlen(w->data));
}

static void make_pair(coio_socket_t pair[2]) { assert_int_equal(coio_socketpair(pair), 0); }

static void a_reader_receives_data_written_later(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[2];
  reader_t r;
  writer_job_t w;
  (void)state;
  make_pair(p);
  SKIP_WITHOUT_READINESS(loop, p[0], p);
  memset(&r, 0, sizeof r);
  r.fd = p[0];
  r.per_call = sizeof r.buf;
  r.stop_at = 3;
  w.fd = p[1];
  w.data = "abc";
  assert_int_equal(coio_loop_add_reader(loop, p[0], on_readable, &r), 0);
  assert_int_equal(coio_call_soon(loop, write_now, &w, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(r.len, 3);
  assert_memory_equal(r.buf, "abc", 3);
  assert_int_equal(coio_loop_remove_reader(loop, p[0]), COIO_ENOENT);
  coio_socket_close(p[0]);
  coio_socket_close(p[1]);
  test_loop_free(loop);
}

static void unread_data_is_reported_again(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[2];
  reader_t r;
  (void)state;
  make_pair(p);
  SKIP_WITHOUT_READINESS(loop, p[0], p);
  memset(&r, 0, sizeof r);
  r.fd = p[0];
  r.per_call = 1; /* one byte per call: level triggering must call again */
  r.stop_at = 10;
  assert_int_equal(coio_socket_send(p[1], "0123456789", 10), 10);
  assert_int_equal(coio_loop_add_reader(loop, p[0], on_readable, &r), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(r.len, 10);
  assert_int_equal(r.calls, 10);
  assert_memory_equal(r.buf, "0123456789", 10);
  coio_socket_close(p[0]);
  coio_socket_close(p[1]);
  test_loop_free(loop);
}

static void eof_wakes_the_reader(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[2];
  reader_t r;
  (void)state;
  make_pair(p);
  SKIP_WITHOUT_READINESS(loop, p[0], p);
  memset(&r, 0, sizeof r);
  r.fd = p[0];
  r.per_call = sizeof r.buf;
  assert_int_equal(coio_socket_send(p[1], "xy", 2), 2);
  assert_int_equal(coio_socket_close(p[1]), 0);
  assert_int_equal(coio_loop_add_reader(loop, p[0], on_readable, &r), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(r.eof, 1);
  assert_int_equal(r.len, 2);
  coio_socket_close(p[0]);
  test_loop_free(loop);
}

typedef struct wcount {
  coio_socket_t fd;
  int calls;
} wcount_t;

static void on_writable(coio_loop_t *loop, void *arg) {
  wcount_t *w = arg;
  if (++w->calls == 3) { /* level triggered: writable again and again */
    assert_int_equal(coio_loop_remove_writer(loop, w->fd), 0);
    coio_loop_stop(loop);
  }
}

static void a_writer_is_called_while_writable(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[2];
  wcount_t w = {0, 0};
  (void)state;
  make_pair(p);
  SKIP_WITHOUT_READINESS(loop, p[0], p);
  w.fd = p[0];
  assert_int_equal(coio_loop_add_writer(loop, p[0], on_writable, &w), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(w.calls, 3);
  assert_int_equal(coio_loop_remove_writer(loop, p[0]), COIO_ENOENT);
  coio_socket_close(p[0]);
  coio_socket_close(p[1]);
  test_loop_free(loop);
}

static void never(coio_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
  fail_msg("a replaced or removed callback ran");
}

static void a_second_add_reader_replaces_the_first(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[2];
  reader_t r;
  (void)state;
  make_pair(p);
  SKIP_WITHOUT_READINESS(loop, p[0], p);
  memset(&r, 0, sizeof r);
  r.fd = p[0];
  r.per_call = sizeof r.buf;
  r.stop_at = 2;
  assert_int_equal(coio_loop_add_reader(loop, p[0], never, NULL), 0);
  assert_int_equal(coio_loop_add_reader(loop, p[0], on_readable, &r), 0);
  assert_int_equal(coio_socket_send(p[1], "hi", 2), 2);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(r.len, 2);
  coio_socket_close(p[0]);
  coio_socket_close(p[1]);
  test_loop_free(loop);
}

/* Two readers, both ready in the same iteration; whichever runs first
 * removes the other, whose queued callback must then not run. */
typedef struct rival {
  coio_socket_t mine, other;
  int *winners;
} rival_t;

static void on_rival(coio_loop_t *loop, void *arg) {
  rival_t *r = arg;
  (*r->winners)++;
  assert_int_equal(coio_loop_remove_reader(loop, r->other), 0);
  assert_int_equal(coio_loop_remove_reader(loop, r->mine), 0);
  coio_call_soon(loop, test_stop_cb, NULL, NULL);
}

static void removing_a_reader_cancels_its_queued_callback(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t a[2], b[2];
  int winners = 0;
  rival_t ra, rb;
  (void)state;
  make_pair(a);
  SKIP_WITHOUT_READINESS(loop, a[0], a);
  make_pair(b);
  assert_int_equal(coio_socket_send(a[1], "1", 1), 1);
  assert_int_equal(coio_socket_send(b[1], "1", 1), 1);
  ra.mine = a[0];
  ra.other = b[0];
  rb.mine = b[0];
  rb.other = a[0];
  ra.winners = rb.winners = &winners;
  assert_int_equal(coio_loop_add_reader(loop, a[0], on_rival, &ra), 0);
  assert_int_equal(coio_loop_add_reader(loop, b[0], on_rival, &rb), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(winners, 1);
  coio_socket_close(a[0]);
  coio_socket_close(a[1]);
  coio_socket_close(b[0]);
  coio_socket_close(b[1]);
  test_loop_free(loop);
}

static void reader_and_writer_on_one_fd_are_independent(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[2];
  reader_t r;
  wcount_t w = {0, 0};
  (void)state;
  make_pair(p);
  SKIP_WITHOUT_READINESS(loop, p[0], p);
  memset(&r, 0, sizeof r);
  r.fd = p[0];
  r.per_call = sizeof r.buf;
  r.stop_at = 4;
  w.fd = p[0];
  assert_int_equal(coio_loop_add_reader(loop, p[0], on_readable, &r), 0);
  assert_int_equal(coio_loop_add_writer(loop, p[0], on_writable, &w), 0);
  assert_int_equal(coio_loop_remove_writer(loop, p[0]), 0);
  assert_int_equal(coio_socket_send(p[1], "data", 4), 4);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(r.len, 4);
  assert_int_equal(w.calls, 0);
  coio_socket_close(p[0]);
  coio_socket_close(p[1]);
  test_loop_free(loop);
}

#define PAIRS 100

typedef struct fleet {
  reader_t r[PAIRS];
  int done;
} fleet_t;

static fleet_t fleet;

static void on_fleet(coio_loop_t *loop, void *arg) {
  reader_t *r = arg;
  long n = coio_socket_recv(r->fd, r->buf + r->len, sizeof r->buf - r->len);
  if (n > 0)
    r->len += (size_t)n;
  if (r->len >= 8) {
    assert_int_equal(coio_loop_remove_reader(loop, r->fd), 0);
    if (++fleet.done == PAIRS)
      coio_loop_stop(loop);
  }
}

static void a_hundred_readers_each_get_their_own_data(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_socket_t p[PAIRS][2];
  char msg[16];
  int i;
  (void)state;
  memset(&fleet, 0, sizeof fleet);
  make_pair(p[0]);
  SKIP_WITHOUT_READINESS(loop, p[0][0], p[0]);
  for (i = 1; i < PAIRS; i++)
    make_pair(p[i]);
  for (i = 0; i < PAIRS; i++) {
    fleet.r[i].fd = p[i][0];
    assert_int_equal(coio_loop_add_reader(loop, p[i][0], on_fleet, &fleet.r[i]), 0);
  }
  for (i = PAIRS - 1; i >= 0; i--) {
    snprintf(msg, sizeof msg, "pair%04d", i);
    assert_int_equal(coio_socket_send(p[i][1], msg, 8), 8);
  }
  assert_int_equal(test_run_bounded(loop, 20), 0);
  for (i = 0; i < PAIRS; i++) {
    snprintf(msg, sizeof msg, "pair%04d", i);
    assert_int_equal(fleet.r[i].len, 8);
    assert_memory_equal(fleet.r[i].buf, msg, 8);
    coio_socket_close(p[i][0]);
    coio_socket_close(p[i][1]);
  }
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_reader_receives_data_written_later),
    cmocka_unit_test(unread_data_is_reported_again),
    cmocka_unit_test(eof_wakes_the_reader),
    cmocka_unit_test(a_writer_is_called_while_writable),
    cmocka_unit_test(a_second_add_reader_replaces_the_first),
    cmocka_unit_test(removing_a_reader_cancels_its_queued_callback),
    cmocka_unit_test(reader_and_writer_on_one_fd_are_independent),
    cmocka_unit_test(a_hundred_readers_each_get_their_own_data),
};

TEST_MAIN("readiness", tests)
