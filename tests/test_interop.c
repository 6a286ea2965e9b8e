/* tests/test_interop.c - interoperability with a peer nobody here wrote:
 * Python's standard asyncio (python3 on the machine), as a server for a
 * coio client and as a client of a coio server, exchanging seeded random
 * data in random pieces, both directions at once, checked byte for byte.
 * Linux only (the peer runs as a separate process). Runs once per backend. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coio/dns.h"
#include "coio/executor.h"
#include "harness.h"

#ifndef COIO_TEST_SOURCE_DIR
#define COIO_TEST_SOURCE_DIR "."
#endif

#define SIZE (64u * 1024u * 1024u)

static unsigned char *random_bytes(size_t n, unsigned seed) {
  unsigned char *p = malloc(n);
  size_t i;
  assert_non_null(p);
  for (i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (unsigned char)(seed >> 16);
  }
  return p;
}

/* ---- coio client, Python server ----------------------------------------------- */

typedef struct client {
  const unsigned char *payload;
  unsigned char *got;
  size_t size, len, sent;
  unsigned seed;
  int eof, lost, error, overflow;
  coio_future_t *done;
} client_t;

static void cl_made(coio_transport_t *t, void *ud) {
  client_t *c = ud;
  /* Random pieces, all queued at once: the transport buffers and
   * pause_writing is only advisory here. */
  while (c->sent < c->size) {
    size_t n = 1 + (c->seed = c->seed * 1664525u + 1013904223u) % 70000u;
    if (n > c->size - c->sent)
      n = c->size - c->sent;
    assert_int_equal(coio_transport_write(t, c->payload + c->sent, n), 0);
    c->sent += n;
  }
  assert_int_equal(coio_transport_write_eof(t), 0);
}

static void cl_data(coio_transport_t *t, const void *data, size_t n, void *ud) {
  client_t *c = ud;
  (void)t;
  if (c->len + n > c->size) {
    c->overflow = 1;
    return;
  }
  memcpy(c->got + c->len, data, n);
  c->len += n;
}

static int cl_eof(coio_transport_t *t, void *ud) {
  ((client_t *)ud)->eof = 1;
  (void)t;
  return 0; /* close */
}

static void cl_lost(coio_transport_t *t, int error, void *ud) {
  client_t *c = ud;
  (void)t;
  c->lost++;
  c->error = error;
  coio_future_set_result(c->done, NULL, NULL);
}

static const coio_protocol_t client_proto = {cl_made, cl_data, cl_eof, cl_lost, NULL, NULL, NULL, NULL};

static void skip_without_driver(coio_loop_t *loop, int rc) {
  if (rc == COIO_ENOTSUP) {
    print_message("SKIP: %s has no transports yet\n", coio_loop_backend(loop));
    test_loop_free(loop);
    skip();
  }
}

static void a_coio_client_against_python_asyncio(void **state) {
  coio_loop_t *loop = test_loop_new();
  char cmd[512], line[64];
  FILE *py;
  client_t c;
  coio_future_t *f;
  int port, rc;
  (void)state;
  memset(&c, 0, sizeof c);
  snprintf(cmd, sizeof cmd, "python3 %s/interop/echo_server.py", COIO_TEST_SOURCE_DIR);
  py = popen(cmd, "r");
  assert_non_null(py);
  assert_non_null(fgets(line, sizeof line, py)); /* the port: the server is up */
  port = atoi(line);
  assert_true(port > 0);
  c.size = SIZE;
  c.seed = 1234;
  c.payload = random_bytes(SIZE, 42);
  c.got = malloc(SIZE);
  assert_non_null(c.got);
  assert_int_equal(coio_future_new(loop, &c.done), 0);
  rc = coio_create_connection(loop, &client_proto, &c, "127.0.0.1", port, NULL, &f);
  if (rc == COIO_ENOTSUP)
    pclose(py);
  skip_without_driver(loop, rc);
  assert_int_equal(rc, 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  coio_future_unref(f);
  assert_int_equal(coio_call_later(loop, 120, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, c.done), 0);
  assert_int_equal(pclose(py), 0);
  assert_int_equal(c.lost, 1);
  assert_int_equal(c.error, 0);
  assert_int_equal(c.eof, 1);
  assert_int_equal(c.overflow, 0);
  assert_int_equal(c.len, SIZE);
  assert_memory_equal(c.got, c.payload, SIZE);
  free((void *)c.payload);
  free(c.got);
  coio_future_unref(c.done);
  test_loop_free(loop);
}

/* ---- Python client, coio server ------------------------------------------------- */

static int echo_eof(coio_transport_t *t, void *ud) {
  (void)ud;
  coio_transport_write_eof(t); /* after the echoed bytes; then closes */
  return 1;
}

static void echo_data(coio_transport_t *t, const void *data, size_t n, void *ud) {
  (void)ud;
  coio_transport_write(t, data, n);
}

static const coio_protocol_t echo_proto = {NULL, echo_data, echo_eof, NULL, NULL, NULL, NULL, NULL};

static int echo_factory(void *fd, const coio_protocol_t **proto, void **ud) {
  (void)fd;
  *proto = &echo_proto;
  *ud = NULL;
  return 0;
}

typedef struct pyclient {
  int port;
  int status;
} pyclient_t;

/* Runs on the executor: the loop keeps serving while Python talks to it. */
static int run_python_client(void *arg, void **result) {
  pyclient_t *p = arg;
  char cmd[512];
  (void)result;
  snprintf(cmd, sizeof cmd, "python3 %s/interop/echo_client.py %d %u 7", COIO_TEST_SOURCE_DIR,
           p->port, SIZE);
  p->status = system(cmd);
  return 0;
}

static void a_python_asyncio_client_against_a_coio_server(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f, *job;
  coio_server_t *server;
  coio_sockaddr_t addr;
  pyclient_t p = {0, -1};
  int rc;
  (void)state;
  rc = coio_create_server(loop, echo_factory, NULL, "127.0.0.1", 0, NULL, &f);
  skip_without_driver(loop, rc);
  assert_int_equal(rc, 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  assert_int_equal(coio_future_result(f, (void **)&server), 0);
  coio_future_unref(f);
  assert_int_equal(coio_server_sockname(server, 0, &addr), 0);
  p.port = coio_sockaddr_port(&addr);
  assert_int_equal(coio_run_in_executor(loop, NULL, run_python_client, &p, NULL, &job), 0);
  assert_int_equal(coio_call_later(loop, 120, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, job), 0);
  assert_int_equal(p.status, 0);
  coio_future_unref(job);
  assert_int_equal(coio_server_close(server), 0);
  assert_int_equal(coio_server_free(server), 0);
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_coio_client_against_python_asyncio),
    cmocka_unit_test(a_python_asyncio_client_against_a_coio_server),
};

TEST_MAIN("interop", tests)
