/* tests/test_happy_eyeballs.c - create_connection with happy_eyeballs_delay
 * (RFC 8305): with several addresses, the next attempt starts after the
 * delay while the earlier one is still pending, the first to connect wins
 * and the others are cancelled; a failing attempt starts the next at once.
 * The address lists are given directly (common/transport_internal.h's
 * coio__create_connection_to): on this machine names resolve to one
 * address. Runs once per backend. */
#include <string.h>

#include "common/transport_internal.h"
#include "harness.h"

typedef struct he_client {
  coio_future_t *lost;
} he_client_t;

static void cl_data(coio_transport_t *t, const void *d, size_t n, void *ud) {
  (void)t;
  (void)d;
  (void)n;
  (void)ud;
}

static void cl_lost(coio_transport_t *t, int err, void *ud) {
  he_client_t *c = ud;
  (void)t;
  (void)err;
  coio_future_set_result(c->lost, NULL, NULL);
}

static const coio_protocol_t client_proto = {NULL, cl_data, NULL, cl_lost, NULL, NULL, NULL, NULL};

static void sv_data(coio_transport_t *t, const void *d, size_t n, void *ud) {
  (void)d;
  (void)n;
  (void)ud;
  coio_transport_close(t);
}

static const coio_protocol_t server_proto = {NULL, sv_data, NULL, NULL, NULL, NULL, NULL, NULL};

static int factory(void *fd, const coio_protocol_t **p, void **ud) {
  (void)fd;
  *p = &server_proto;
  *ud = NULL;
  return 0;
}

static coio_server_t *serve(coio_loop_t *loop, int backlog, coio_sockaddr_t *addr) {
  coio_server_options_t o;
  coio_future_t *f;
  coio_server_t *s;
  memset(&o, 0, sizeof o);
  o.backlog = backlog;
  o.no_start = backlog == 1; /* a listener nobody accepts from */
  assert_int_equal(coio_create_server(loop, factory, NULL, "127.0.0.1", 0, &o, &f), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  assert_int_equal(coio_future_result(f, (void **)&s), 0);
  coio_future_unref(f);
  assert_int_equal(coio_server_sockname(s, 0, addr), 0);
  return s;
}

/* Connects with happy_eyeballs_delay over addrs; returns the status and,
 * on success, the port of the peer it reached. */
static int connect_list(coio_loop_t *loop, const coio_sockaddr_t *addrs, size_t n, double delay,
                        int *peer_port, double *elapsed) {
  coio_connect_options_t o;
  coio_future_t *f;
  coio_transport_t *t;
  he_client_t c;
  coio_sockaddr_t peer;
  double t0 = coio_loop_time(loop);
  int rc;
  memset(&o, 0, sizeof o);
  o.happy_eyeballs_delay = delay;
  assert_int_equal(coio_future_new(loop, &c.lost), 0);
  assert_int_equal(coio__create_connection_to(loop, &client_proto, &c, addrs, n, &o, &f), 0);
  assert_int_equal(coio_call_later(loop, 20, test_stop_cb, NULL, NULL), 0);
  rc = coio_loop_run_until_complete(loop, f);
  *elapsed = coio_loop_time(loop) - t0;
  if (rc == 0) {
    assert_int_equal(coio_future_result(f, (void **)&t), 0);
    assert_int_equal(coio_transport_peername(t, &peer), 0);
    *peer_port = coio_sockaddr_port(&peer);
    assert_int_equal(coio_transport_write(t, "x", 1), 0); /* the server then closes */
    assert_int_equal(coio_loop_run_until_complete(loop, c.lost), 0);
  }
  coio_future_unref(f);
  coio_future_unref(c.lost);
  return rc;
}

static void a_stalled_first_address_does_not_block_the_next(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_sockaddr_t addrs[2];
  coio_server_t *stalled, *good;
  coio_socket_t fill[4];
  double elapsed;
  int port = 0, i;
  (void)state;
  /* A: a listener nobody accepts from, its queue filled, so that a new
   * connection to it stays pending (Linux drops the SYN; Windows may
   * refuse at once, which the test also accepts). B: a working server. */
  stalled = serve(loop, 1, &addrs[0]);
  good = serve(loop, 100, &addrs[1]);
  for (i = 0; i < 4; i++) {
    assert_int_equal(coio__socket_open(COIO_AF_INET, COIO_SOCK_STREAM, &fill[i]), 0);
    coio__socket_connect_now(fill[i], &addrs[0]); /* EINPROGRESS is fine */
  }
  assert_int_equal(connect_list(loop, addrs, 2, 0.1, &port, &elapsed), 0);
  assert_int_equal(port, coio_sockaddr_port(&addrs[1]));
  assert_true(elapsed < 5.0); /* not the kernel's connect timeout */
#ifdef __linux__
  /* Linux leaves the first attempt pending: the second started after the
   * delay, so this proves the staggering (not a fast refusal). */
  assert_true(elapsed >= 0.1);
#endif
  print_message("connected through the second address after %.3f s\n", elapsed);
  for (i = 0; i < 4; i++)
    coio_socket_close(fill[i]);
  assert_int_equal(coio_server_close(stalled), 0);
  assert_int_equal(coio_server_close(good), 0);
  assert_int_equal(coio_call_later(loop, 0.05, test_stop_cb, NULL, NULL), 0);
  test_run_bounded(loop, 10);
  assert_int_equal(coio_server_free(stalled), 0);
  assert_int_equal(coio_server_free(good), 0);
  test_loop_free(loop);
}

static void a_refused_address_starts_the_next_at_once(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_sockaddr_t addrs[3];
  coio_server_t *good, *gone;
  double elapsed;
  int port = 0;
  (void)state;
  /* two refusing addresses (a server closed again), then a working one */
  gone = serve(loop, 100, &addrs[0]);
  addrs[1] = addrs[0];
  assert_int_equal(coio_server_close(gone), 0);
  good = serve(loop, 100, &addrs[2]);
  assert_int_equal(connect_list(loop, addrs, 3, 10.0, &port, &elapsed), 0);
  assert_int_equal(port, coio_sockaddr_port(&addrs[2]));
  assert_true(elapsed < 5.0); /* the 10 s delay was never waited for */
  /* every address refusing: the error is reported */
  assert_int_equal(connect_list(loop, addrs, 2, 0.05, &port, &elapsed), COIO_ECONNREFUSED);
  assert_int_equal(coio_server_close(good), 0);
  assert_int_equal(coio_call_later(loop, 0.05, test_stop_cb, NULL, NULL), 0);
  test_run_bounded(loop, 10);
  assert_int_equal(coio_server_free(good), 0);
  assert_int_equal(coio_server_free(gone), 0);
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_stalled_first_address_does_not_block_the_next),
    cmocka_unit_test(a_refused_address_starts_the_next_at_once),
};

TEST_MAIN("happy_eyeballs", tests)
