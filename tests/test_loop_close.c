/* tests/test_loop_close.c - freeing a loop with transports still open:
 * their sockets are closed (the peer sees the connection end), nothing
 * leaks (LeakSanitizer in the ASan configuration), no protocol callback
 * runs after the loop closed, and a proactor's operations in flight (a send
 * the peer does not read) are ended safely. Runs once per backend. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/select.h>
#include <sys/socket.h>
#endif

#include "common/transport_internal.h"
#include "harness.h"

typedef struct counts {
  int accepted, lost_after_close;
  int loop_closed;
} counts_t;

static void sv_made(coio_transport_t *t, void *ud) {
  counts_t *c = ud;
  static unsigned char big[256 * 1024];
  c->accepted++;
  /* queue more than the peer will ever read: a send stays in flight */
  coio_transport_write(t, big, sizeof big);
}

static void sv_data(coio_transport_t *t, const void *d, size_t n, void *ud) {
  (void)t;
  (void)d;
  (void)n;
  (void)ud;
}

static void sv_lost(coio_transport_t *t, int err, void *ud) {
  counts_t *c = ud;
  (void)t;
  (void)err;
  if (c->loop_closed)
    c->lost_after_close++;
}

static const coio_protocol_t server_proto = {sv_made, sv_data, NULL, sv_lost, NULL, NULL, NULL, NULL};

static int factory(void *data, const coio_protocol_t **p, void **ud) {
  *p = &server_proto;
  *ud = data;
  return 0;
}

static void check_accepted(coio_loop_t *loop, void *arg) {
  counts_t *c = arg;
  if (c->accepted == 2)
    coio_loop_stop(loop);
  else
    coio_call_later(loop, 0.001, check_accepted, c, NULL);
}

/* Waits (bounded) until the plain socket s is readable, then reads until
 * EOF or an error: the connection ended. Returns 1 when it did. */
static int peer_sees_the_end(coio_socket_t s) {
  char buf[65536];
  int rounds;
  for (rounds = 0; rounds < 2000; rounds++) {
    fd_set rd;
    struct timeval tv;
    long n;
    FD_ZERO(&rd);
    FD_SET(s, &rd);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    if (select((int)s + 1, &rd, NULL, NULL, &tv) <= 0)
      return 0;
    n = coio_socket_recv(s, buf, sizeof buf);
    if (n == 0 || (n < 0 && n != COIO_EAGAIN))
      return 1;
  }
  return 0;
}

static void freeing_a_loop_closes_its_transports(void **state) {
  coio_loop_t *loop = test_loop_new();
  counts_t c;
  coio_future_t *f;
  coio_server_t *server;
  coio_sockaddr_t addr;
  coio_socket_t peers[2];
  int i;
  (void)state;
  memset(&c, 0, sizeof c);
  assert_int_equal(coio_create_server(loop, factory, &c, "127.0.0.1", 0, NULL, &f), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  assert_int_equal(coio_future_result(f, (void **)&server), 0);
  coio_future_unref(f);
  assert_int_equal(coio_server_sockname(server, 0, &addr), 0);
  for (i = 0; i < 2; i++) {
    assert_int_equal(coio__socket_open(COIO_AF_INET, COIO_SOCK_STREAM, &peers[i]), 0);
    coio__socket_connect_now(peers[i], &addr); /* non-blocking: in progress is fine */
  }
  assert_int_equal(coio_call_soon(loop, check_accepted, &c, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 20), 0);
  assert_int_equal(c.accepted, 2);
  /* The server goes (it is the caller's); its two connections are left
   * open, one of them with a large write pending. */
  assert_int_equal(coio_server_close(server), 0);
  c.loop_closed = 1;
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(c.lost_after_close, 0); /* no callback after close */
  assert_int_equal(coio_server_free(server), 0);
  test_loop_free(loop);
  for (i = 0; i < 2; i++) {
    assert_true(peer_sees_the_end(peers[i]));
    coio_socket_close(peers[i]);
  }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(freeing_a_loop_closes_its_transports),
};

TEST_MAIN("loop_close", tests)
