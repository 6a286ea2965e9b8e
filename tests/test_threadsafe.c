/* tests/test_threadsafe.c - call_soon_threadsafe: other threads wake a loop
 * blocked in the kernel, calls from one thread keep their order, none is
 * lost. Synchronised with atomics and the loop's own callbacks; every wait
 * is bounded by a watchdog timer. Runs once per backend. */
#include <stdatomic.h>
#include <string.h>

#include "harness.h"

/* ---- ping-pong: each wake-up must reach a loop that has nothing else to do */

#define ROUNDS 200

typedef struct pingpong {
  coio_loop_t *loop;
  atomic_int turn; /* even: the thread may send round turn/2; odd: loop's turn */
  atomic_int abort;
  int received;
  double worst; /* longest wake-up latency seen, seconds */
  double sent_at;
  int send_errors; /* asserts cannot run on another thread: counted here */
} pingpong_t;

static void on_ping(coio_loop_t *loop, void *arg) {
  pingpong_t *p = arg;
  double lat = coio_loop_time(loop) - p->sent_at;
  if (lat > p->worst)
    p->worst = lat;
  p->received++;
  atomic_fetch_add(&p->turn, 1); /* give the turn back to the thread */
  if (p->received == ROUNDS)
    coio_loop_stop(loop);
}

static void pinger(void *arg) {
  pingpong_t *p = arg;
  int round;
  for (round = 0; round < ROUNDS; round++) {
    while (atomic_load(&p->turn) != 2 * round) {
      if (atomic_load(&p->abort))
        return;
      test_yield();
    }
    p->sent_at = coio_loop_time(p->loop);
    atomic_fetch_add(&p->turn, 1);
    if (coio_call_soon_threadsafe(p->loop, on_ping, p) != 0)
      p->send_errors++;
  }
}

static void wakes_a_blocked_loop_from_another_thread(void **state) {
  coio_loop_t *loop = test_loop_new();
  pingpong_t p;
  test_thread_t *t;
  int rc;
  (void)state;
  memset(&p, 0, sizeof p);
  p.loop = loop;
  atomic_store(&p.turn, 0);
  atomic_store(&p.abort, 0);
  t = test_thread_start(pinger, &p);
  /* With nothing scheduled but the 30 s watchdog, only the wake-ups can
   * make the loop run the callbacks. */
  rc = test_run_bounded(loop, 30);
  atomic_store(&p.abort, 1);
  test_thread_join(t);
  assert_int_equal(p.send_errors, 0);
  assert_int_equal(rc, 0);
  assert_int_equal(p.received, ROUNDS);
  print_message("worst wake-up latency over %d rounds: %.3f ms\n", ROUNDS, p.worst * 1e3);
  test_loop_free(loop);
}

/* ---- many threads, many calls ------------------------------------------------ */

#define THREADS 4
#define CALLS 2000

typedef struct sender {
  coio_loop_t *loop;
  int id;
  struct flood *flood;
  int send_errors;
} sender_t;

typedef struct flood {
  int next[THREADS]; /* next sequence number expected from each thread */
  int bad_order;
  int total;
  sender_t senders[THREADS];
  int seq_of[THREADS][CALLS];
} flood_t;

typedef struct msg {
  flood_t *f;
  int thread;
  int seq;
} msg_t;

static msg_t msgs[THREADS][CALLS];

static void on_msg(coio_loop_t *loop, void *arg) {
  msg_t *m = arg;
  flood_t *f = m->f;
  if (m->seq != f->next[m->thread])
    f->bad_order++;
  f->next[m->thread] = m->seq + 1;
  if (++f->total == THREADS * CALLS)
    coio_loop_stop(loop);
}

static void sender_main(void *arg) {
  sender_t *s = arg;
  int i;
  for (i = 0; i < CALLS; i++) {
    msg_t *m = &msgs[s->id][i];
    m->f = s->flood;
    m->thread = s->id;
    m->seq = i;
    if (coio_call_soon_threadsafe(s->loop, on_msg, m) != 0)
      s->send_errors++;
  }
}

static void concurrent_calls_all_arrive_in_per_thread_order(void **state) {
  coio_loop_t *loop = test_loop_new();
  static flood_t f;
  test_thread_t *t[THREADS];
  int i, rc;
  (void)state;
  memset(&f, 0, sizeof f);
  for (i = 0; i < THREADS; i++) {
    f.senders[i].loop = loop;
    f.senders[i].id = i;
    f.senders[i].flood = &f;
    t[i] = test_thread_start(sender_main, &f.senders[i]);
  }
  rc = test_run_bounded(loop, 30);
  for (i = 0; i < THREADS; i++) {
    test_thread_join(t[i]);
    assert_int_equal(f.senders[i].send_errors, 0);
  }
  assert_int_equal(rc, 0);
  assert_int_equal(f.total, THREADS * CALLS);
  assert_int_equal(f.bad_order, 0);
  test_loop_free(loop);
}

/* ---- calls queued before the loop runs, and after it closed --------------- */

static void count_cb(coio_loop_t *loop, void *arg) {
  (void)loop;
  (*(int *)arg)++;
}

static void calls_queued_before_running_run_in_order_with_call_soon(void **state) {
  coio_loop_t *loop = test_loop_new();
  int n = 0;
  (void)state;
  assert_int_equal(coio_call_soon_threadsafe(loop, count_cb, &n), 0);
  assert_int_equal(coio_call_soon_threadsafe(loop, count_cb, &n), 0);
  assert_int_equal(coio_call_soon_threadsafe(loop, test_stop_cb, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_int_equal(n, 2);
  test_loop_free(loop);
}

static void a_closed_loop_drops_queued_calls_and_refuses_new_ones(void **state) {
  coio_loop_t *loop = test_loop_new();
  int n = 0;
  (void)state;
  assert_int_equal(coio_call_soon_threadsafe(loop, count_cb, &n), 0);
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(coio_call_soon_threadsafe(loop, count_cb, &n), COIO_ECLOSED);
  assert_int_equal(n, 0);
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(wakes_a_blocked_loop_from_another_thread),
    cmocka_unit_test(concurrent_calls_all_arrive_in_per_thread_order),
    cmocka_unit_test(calls_queued_before_running_run_in_order_with_call_soon),
    cmocka_unit_test(a_closed_loop_drops_queued_calls_and_refuses_new_ones),
};

TEST_MAIN("threadsafe", tests)
