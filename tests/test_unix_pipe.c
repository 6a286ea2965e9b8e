/* tests/test_unix_pipe.c - Unix domain sockets (path and abstract names,
 * the stale socket file), pipe transports (read pipe: data in pieces and
 * EOF; write pipe: 8 MiB with flow control, EPIPE without dying of
 * SIGPIPE; the calls a one-way pipe refuses) and Windows named pipes
 * (server and client echo), through the public API, on every backend.
 *
 * Every wait is for a condition checked from the protocol callbacks under a
 * watchdog; no fixed sleeps. Unix sockets are skipped on Windows and named
 * pipes checked to answer COIO_ENOTSUP on Linux. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "harness.h"

#define BOUND 30.0
#define BIG (8u * 1024u * 1024u)
#define CHUNK (64u * 1024u)

typedef struct ep {
  coio_transport_t *t;
  int made, lost, lost_error, eof, paused, resumed;
  unsigned char *rx;
  size_t rx_len, rx_cap;
  int echo;
  /* a producer (write pipes): writes total bytes of the pattern in
   * CHUNKs while not paused, then write_eof */
  size_t total, sent;
  int producing;
} ep_t;

static struct {
  coio_loop_t *loop;
  int (*until)(void);
  int fut_done;
  ep_t srv[8];
  int nsrv;
} G;

static void poke(void) {
  if (G.until && G.until())
    coio_loop_stop(G.loop);
}

static void run_until(int (*until)(void)) {
  if (!until()) {
    G.until = until;
    test_run_bounded(G.loop, BOUND);
    G.until = NULL;
  }
  if (!until())
    fail_msg("condition not reached within %.0f s", BOUND);
}

static int iters;
static void iter_cb(coio_loop_t *loop, void *arg) {
  (void)arg;
  if (--iters <= 0)
    coio_loop_stop(loop);
  else
    coio_call_soon(loop, iter_cb, NULL, NULL);
}

/* Lets the drivers finish their closes (cancels, handle closes). */
static void run_iterations(int n) {
  iters = n;
  assert_int_equal(coio_call_soon(G.loop, iter_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(G.loop, BOUND), 0);
}

static int fut_is_done(void) { return G.fut_done; }
static void fut_poke(coio_future_t *f, void *arg) {
  (void)f, (void)arg;
  G.fut_done = 1;
  poke();
}

static int await_future(coio_future_t *f, void **value) {
  int rc;
  void *v = NULL;
  G.fut_done = 0;
  assert_int_equal(coio_future_add_done_callback(f, fut_poke, NULL), 0);
  run_until(fut_is_done);
  rc = coio_future_result(f, &v);
  if (value)
    *value = v;
  coio_future_unref(f);
  return rc;
}

static unsigned char pat(size_t i) { return (unsigned char)((i * 131u + (i >> 12)) & 0xff); }

static void append(ep_t *e, const void *data, size_t len) {
  if (e->rx_len + len > e->rx_cap) {
    size_t cap = e->rx_cap ? e->rx_cap : 4096;
    while (cap < e->rx_len + len)
      cap *= 2;
    e->rx = realloc(e->rx, cap);
    assert_non_null(e->rx);
    e->rx_cap = cap;
  }
  memcpy(e->rx + e->rx_len, data, len);
  e->rx_len += len;
}

static void check_pattern(const ep_t *e, size_t n) {
  size_t i;
  assert_int_equal(e->rx_len, n);
  for (i = 0; i < n; i++)
    if (e->rx[i] != pat(i))
      fail_msg("byte %zu differs", i);
}

/* ---- the protocol ------------------------------------------------------------ */

static void produce(ep_t *e) {
  static unsigned char chunk[CHUNK];
  if (e->producing)
    return; /* pause_writing from inside write() */
  e->producing = 1;
  while (e->sent < e->total && e->paused == e->resumed) {
    size_t i, n = e->total - e->sent < CHUNK ? e->total - e->sent : CHUNK;
    for (i = 0; i < n; i++)
      chunk[i] = pat(e->sent + i);
    assert_int_equal(coio_transport_write(e->t, chunk, n), 0);
    e->sent += n;
  }
  if (e->total && e->sent == e->total && !coio_transport_is_closing(e->t))
    assert_int_equal(coio_transport_write_eof(e->t), 0);
  e->producing = 0;
}

static void e_made(coio_transport_t *t, void *ud) {
  ep_t *e = ud;
  e->t = t;
  e->made = 1;
  if (e->total)
    produce(e);
  poke();
}

static void e_data(coio_transport_t *t, const void *data, size_t len, void *ud) {
  ep_t *e = ud;
  assert_true(len > 0);
  assert_false(e->eof);
  append(e, data, len);
  if (e->echo)
    assert_int_equal(coio_transport_write(t, data, len), 0);
  poke();
}

static int e_eof(coio_transport_t *t, void *ud) {
  ep_t *e = ud;
  (void)t;
  assert_false(e->eof);
  e->eof = 1;
  poke();
  return 0;
}

static void e_lost(coio_transport_t *t, int error, void *ud) {
  ep_t *e = ud;
  (void)t;
  assert_false(e->lost);
  e->lost = 1;
  e->lost_error = error;
  e->t = NULL;
  poke();
}

static void e_pause(coio_transport_t *t, void *ud) {
  ep_t *e = ud;
  (void)t;
  assert_int_equal(e->paused, e->resumed);
  e->paused++;
}

static void e_resume(coio_transport_t *t, void *ud) {
  ep_t *e = ud;
  (void)t;
  assert_int_equal(e->paused, e->resumed + 1);
  e->resumed++;
  if (e->total)
    produce(e);
  poke();
}

static const coio_protocol_t proto = {e_made, e_data, e_eof, e_lost, e_pause, e_resume, NULL, NULL};

static int factory(void *data, const coio_protocol_t **p, void **ud) {
  ep_t *e;
  (void)data;
  assert_true(G.nsrv < 8);
  e = &G.srv[G.nsrv++];
  memset(e, 0, sizeof *e);
  e->echo = 1;
  *p = &proto;
  *ud = e;
  return 0;
}

static void setup_loop(void) {
  memset(&G, 0, sizeof G);
  G.loop = test_loop_new();
}

static void teardown_loop(void) {
  int i;
  run_iterations(10);
  test_loop_free(G.loop);
  for (i = 0; i < G.nsrv; i++)
    free(G.srv[i].rx);
  G.loop = NULL;
}

/* ---- an echo conversation: client writes n bytes, reads them back --------------- */

static ep_t cli;
static size_t want;
static int cli_has_all(void) { return cli.rx_len >= want; }
static int cli_lost_and_srv_lost(void) {
  int i;
  if (!cli.lost)
    return 0;
  for (i = 0; i < G.nsrv; i++)
    if (!G.srv[i].lost)
      return 0;
  return 1;
}

static void echo_through(coio_future_t *conn, size_t n) {
  unsigned char *buf = malloc(n);
  void *v;
  size_t i;
  assert_non_null(buf);
  for (i = 0; i < n; i++)
    buf[i] = pat(i);
  assert_int_equal(await_future(conn, &v), 0);
  assert_ptr_equal(v, cli.t);
  assert_int_equal(coio_transport_write(cli.t, buf, n), 0);
  want = n;
  run_until(cli_has_all);
  check_pattern(&cli, n);
  free(buf);
  /* The client closes: the server's side sees EOF and closes too. */
  assert_int_equal(coio_transport_close(cli.t), 0);
  run_until(cli_lost_and_srv_lost);
  assert_int_equal(cli.lost_error, 0);
  assert_int_equal(G.srv[G.nsrv - 1].eof, 1);
  free(cli.rx);
}

/* ---- Unix domain sockets ------------------------------------------------------------------ */

#ifdef _WIN32
#define SKIP_ON_WINDOWS()                                                             \
  do {                                                                                \
    print_message("SKIP: Unix domain sockets are not supported on Windows by coio\n"); \
    skip();                                                                           \
  } while (0)
#else
#define SKIP_ON_WINDOWS() (void)0
#endif

#ifndef _WIN32
static void unix_echo(const char *path) {
  coio_future_t *f;
  coio_server_t *srv;
  coio_sockaddr_t sa;
  void *v;
  int rc;
  setup_loop();
  rc = coio_create_unix_server(G.loop, factory, NULL, path, NULL, &f);
  if (rc == COIO_ENOTSUP) {
    print_message("SKIP: %s has no transport driver\n", coio_loop_backend(G.loop));
    test_loop_free(G.loop);
    skip();
  }
  assert_int_equal(rc, 0);
  assert_int_equal(await_future(f, &v), 0);
  srv = v;
  assert_int_equal(coio_server_is_serving(srv), 1);
  assert_int_equal(coio_server_sockname(srv, 0, &sa), 0);
  assert_int_equal(coio_sockaddr_family(&sa), COIO_AF_UNIX);

  memset(&cli, 0, sizeof cli);
  assert_int_equal(coio_create_unix_connection(G.loop, &proto, &cli, path, &f), 0);
  echo_through(f, 256u * 1024u);
  assert_int_equal(G.nsrv, 1);

  /* A second client on the same server. */
  memset(&cli, 0, sizeof cli);
  assert_int_equal(coio_create_unix_connection(G.loop, &proto, &cli, path, &f), 0);
  echo_through(f, 1000);
  assert_int_equal(G.nsrv, 2);

  assert_int_equal(coio_server_close(srv), 0);
  assert_int_equal(coio_server_free(srv), 0);
  teardown_loop();
}
#endif

static void unix_echo_path(void **state) {
  (void)state;
  SKIP_ON_WINDOWS();
#ifndef _WIN32
  {
    char path[108];
    struct sockaddr_un un;
    int fd;
    snprintf(path, sizeof path, "/tmp/coio-test-%ld-%s.sock", (long)getpid(), coio_test_backend);
    /* A stale socket file, as a crashed server leaves: bound, never
     * unlinked. create_unix_server must remove it (asyncio does). */
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
    close(fd);
    assert_int_equal(access(path, F_OK), 0);
    unix_echo(path);
    unlink(path);
  }
#endif
}

static void unix_echo_abstract(void **state) {
  (void)state;
  SKIP_ON_WINDOWS();
#ifndef _WIN32
  {
    char name[64];
    snprintf(name, sizeof name, "@coio-test-%ld-%s", (long)getpid(), coio_test_backend);
    unix_echo(name);
  }
#endif
}

static void unix_addresses(void **state) {
  coio_sockaddr_t sa;
  (void)state;
#ifdef _WIN32
  assert_int_equal(coio_sockaddr_from_unix(&sa, "x"), COIO_EAFNOSUPPORT);
  SKIP_ON_WINDOWS();
#else
  char longpath[200];
  assert_int_equal(coio_sockaddr_from_unix(&sa, "/tmp/x"), 0);
  assert_int_equal(coio_sockaddr_family(&sa), COIO_AF_UNIX);
  assert_int_equal(coio_sockaddr_port(&sa), COIO_EAFNOSUPPORT);
  assert_int_equal(coio_sockaddr_from_unix(&sa, "@abs"), 0);
  assert_int_equal(sa.u.bytes[2], 0); /* sun_path[0]: the abstract NUL */
  assert_int_equal(coio_sockaddr_from_unix_n(&sa, "\0abs", 4), 0);
  assert_int_equal(sa.len, 2 + 4);
  assert_int_equal(coio_sockaddr_from_unix(&sa, ""), COIO_EINVAL);
  memset(longpath, 'a', sizeof longpath - 1);
  longpath[sizeof longpath - 1] = 0;
  assert_int_equal(coio_sockaddr_from_unix(&sa, longpath), COIO_ERANGE);
  {
    /* Not a socket: left alone, and the bind fails. */
    char path[64];
    coio_future_t *f = NULL;
    FILE *fp;
    snprintf(path, sizeof path, "/tmp/coio-test-file-%ld", (long)getpid());
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    setup_loop();
    assert_int_equal(coio_create_unix_server(G.loop, factory, NULL, path, NULL, &f),
                     COIO_EADDRINUSE);
    assert_null(f);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    teardown_loop();
  }
#endif
}

/* ---- pipes -------------------------------------------------------------------------------- */

static ep_t rd, wr;

static void open_pipe_transports(coio_pipe_t ends[2], int with_reader) {
  coio_future_t *f;
  void *v;
  memset(&rd, 0, sizeof rd);
  assert_int_equal(coio_pipe_open(ends, 0), 0);
  if (with_reader) {
    assert_int_equal(coio_connect_read_pipe(G.loop, &proto, &rd, ends[0], &f), 0);
    assert_int_equal(await_future(f, &v), 0);
    assert_ptr_equal(v, rd.t);
  }
  assert_int_equal(coio_connect_write_pipe(G.loop, &proto, &wr, ends[1], &f), 0);
  assert_int_equal(await_future(f, &v), 0);
  assert_ptr_equal(v, wr.t);
}

static size_t rd_want;
static int rd_has(void) { return rd.rx_len >= rd_want; }
static int both_lost(void) { return rd.lost && wr.lost; }
static int wr_lost(void) { return wr.lost; }

static void read_pipe_pieces(void **state) {
  coio_pipe_t ends[2];
  coio_sockaddr_t sa;
  (void)state;
  setup_loop();
  memset(&wr, 0, sizeof wr);
  open_pipe_transports(ends, 1);

  /* What a one-way pipe refuses. */
  assert_int_equal(coio_transport_write(rd.t, "x", 1), COIO_ENOTSUP);
  assert_int_equal(coio_transport_write_eof(rd.t), COIO_ENOTSUP);
  assert_int_equal(coio_transport_can_write_eof(rd.t), 0);
  assert_int_equal(coio_transport_can_write_eof(wr.t), 1);
  assert_int_equal(coio_transport_pause_reading(wr.t), COIO_ENOTSUP);
  assert_int_equal(coio_transport_resume_reading(wr.t), COIO_ENOTSUP);
  assert_int_equal(coio_transport_is_reading(wr.t), 0);
  assert_int_equal(coio_transport_is_reading(rd.t), 1);
  assert_int_equal(coio_transport_peername(rd.t, &sa), COIO_ENOTSUP);
  assert_true(coio_transport_socket(rd.t) == COIO_INVALID_SOCKET);

  /* Pieces arrive as written. */
  assert_int_equal(coio_transport_write(wr.t, "hello ", 6), 0);
  rd_want = 6;
  run_until(rd_has);
  assert_int_equal(coio_transport_write(wr.t, "pipe ", 5), 0);
  assert_int_equal(coio_transport_write(wr.t, "world", 5), 0);
  rd_want = 16;
  run_until(rd_has);
  assert_memory_equal(rd.rx, "hello pipe world", 16);

  /* Pausing the reader holds data back, resuming delivers it. */
  assert_int_equal(coio_transport_pause_reading(rd.t), 0);
  assert_int_equal(coio_transport_write(wr.t, "!", 1), 0);
  assert_int_equal(coio_transport_resume_reading(rd.t), 0);
  rd_want = 17;
  run_until(rd_has);

  /* write_eof on a write pipe closes it once flushed; the reader sees EOF
   * and closes too. */
  assert_int_equal(coio_transport_write_eof(wr.t), 0);
  run_until(both_lost);
  assert_int_equal(wr.lost_error, 0);
  assert_int_equal(rd.eof, 1);
  assert_int_equal(rd.lost_error, 0);
  assert_int_equal(rd.rx_len, 17);
  free(rd.rx);
  teardown_loop();
}

static void write_pipe_8mib(void **state) {
  coio_pipe_t ends[2];
  (void)state;
  setup_loop();
  memset(&wr, 0, sizeof wr);
  wr.total = BIG; /* produced from connection_made on, with flow control */
  open_pipe_transports(ends, 1);
  rd_want = BIG;
  run_until(both_lost);
  assert_int_equal(wr.sent, BIG);
  assert_int_equal(wr.lost_error, 0);
  assert_int_equal(rd.lost_error, 0);
  assert_int_equal(rd.eof, 1);
  check_pattern(&rd, BIG);
  /* 8 MiB through a pipe (64 KiB of kernel buffer) must have paused the
   * producer at the 64 KiB high-water mark, and resumed it each time. */
  assert_true(wr.paused >= 1);
  assert_int_equal(wr.paused, wr.resumed);
  free(rd.rx);
  teardown_loop();
}

static void write_pipe_epipe(void **state) {
  coio_pipe_t ends[2];
  unsigned char buf[4096];
  (void)state;
  setup_loop();
  memset(&wr, 0, sizeof wr);
  memset(buf, 'x', sizeof buf);
  open_pipe_transports(ends, 0);
  /* The reader is gone before anything is written. */
  assert_int_equal(coio_pipe_close(ends[0]), 0);
#ifndef _WIN32
  {
    /* The write pipe made SIGPIPE ignored (it was at the default). */
    struct sigaction sa;
    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_IGN);
  }
#endif
  assert_int_equal(coio_transport_write(wr.t, buf, sizeof buf), 0);
  run_until(wr_lost);
  assert_int_equal(wr.lost_error, COIO_EPIPE); /* and the process is alive */
  teardown_loop();
}

/* ---- Windows named pipes -------------------------------------------------------------------- */

static void named_pipe_echo(void **state) {
  coio_server_t *srv = NULL;
  coio_future_t *f = NULL;
  char name[96];
  (void)state;
  setup_loop();
  snprintf(name, sizeof name, "coio-test-%lu-%s", (unsigned long)rand(), coio_test_backend);
#ifndef _WIN32
  assert_int_equal(coio_start_serving_pipe(G.loop, factory, NULL, name, &srv), COIO_ENOTSUP);
  assert_null(srv);
  assert_int_equal(coio_create_pipe_connection(G.loop, &proto, &cli, name, &f), COIO_ENOTSUP);
  assert_null(f);
  teardown_loop();
#else
  {
    char full[128];
    snprintf(full, sizeof full, "\\\\.\\pipe\\%s-%lu", name, (unsigned long)GetCurrentProcessId());
    assert_int_equal(coio_start_serving_pipe(G.loop, factory, NULL, full, &srv), 0);
    assert_int_equal(coio_server_is_serving(srv), 1);

    memset(&cli, 0, sizeof cli);
    assert_int_equal(coio_create_pipe_connection(G.loop, &proto, &cli, full, &f), 0);
    echo_through(f, 256u * 1024u);
    assert_int_equal(G.nsrv, 1);

    /* A second client: a new instance was waiting. */
    memset(&cli, 0, sizeof cli);
    assert_int_equal(coio_create_pipe_connection(G.loop, &proto, &cli, full, &f), 0);
    echo_through(f, 1000);
    assert_int_equal(G.nsrv, 2);

    assert_int_equal(coio_server_close(srv), 0);
    assert_int_equal(coio_server_free(srv), 0);
    teardown_loop();
  }
#endif
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(unix_addresses),  cmocka_unit_test(unix_echo_path),
      cmocka_unit_test(unix_echo_abstract), cmocka_unit_test(read_pipe_pieces),
      cmocka_unit_test(write_pipe_8mib), cmocka_unit_test(write_pipe_epipe),
      cmocka_unit_test(named_pipe_echo),
  };
  return test_main(argc, argv, "unix_pipe", tests, sizeof tests / sizeof tests[0]);
}
