/* tests/fuzz/fuzz_tls.c - libFuzzer target for the TLS engine
 * (common/tls_engine.c), driven through the same entry points the TLS
 * transports use (common/tls_internal.h: feed, handshake, read, write,
 * shutdown, out), without sockets. The first input byte picks the case:
 *   even: random bytes as a client's flight into a server-side handshake,
 *         in chunks whose sizes come from the input;
 *   odd:  a real in-memory handshake between a client and a server engine
 *         (certificates made once, in the process), then random bytes as
 *         records into the server's record layer, interleaved with reads,
 *         writes and a shutdown.
 * Whatever comes in, every call must return a code (never crash, hang or
 * leak), and once an engine failed it stays failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "common/tls_internal.h"
#include "tls_certs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "fuzz_tls: check failed at line %d: %s\n", __LINE__, #c);                   \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static coio_tls_context_t *server_ctx, *client_ctx;

static void setup(void) {
  static int done;
  tls_test_certs_t c;
  if (done)
    return;
  done = 1;
  CHECK(tls_test_certs_make(&c) == 0);
  CHECK(coio_tls_context_new(COIO_TLS_SERVER, 0, &server_ctx) == 0);
  CHECK(coio_tls_context_load_cert_chain_mem(server_ctx, c.server.cert, c.server.cert_len,
                                             c.server.key, c.server.key_len, NULL) == 0);
  CHECK(coio_tls_context_new(COIO_TLS_CLIENT, COIO_TLS_NO_DEFAULT_TRUST, &client_ctx) == 0);
  CHECK(coio_tls_context_load_verify_mem(client_ctx, c.ca.cert, c.ca.cert_len) == 0);
  tls_test_certs_free(&c);
}

/* What one engine sent goes to the other (the transport glue's flush). */
static void move(coio__tls_engine_t *from, coio__tls_engine_t *to) {
  const void *p;
  size_t n = coio__tls_engine_out(from, &p);
  if (n) {
    CHECK(coio__tls_engine_feed(to, p, n) == 0);
    coio__tls_engine_out_clear(from);
  }
}

static void drain_out(coio__tls_engine_t *e) {
  const void *p;
  (void)coio__tls_engine_out(e, &p);
  coio__tls_engine_out_clear(e);
}

static int is_code(int rc) { return rc <= 0 && rc > -100; }

/* Reads everything readable: the last status. */
static int read_all(coio__tls_engine_t *e) {
  unsigned char buf[4096];
  size_t got;
  int rc, rounds = 0;
  do {
    rc = coio__tls_engine_read(e, buf, sizeof buf, &got);
    CHECK(rc == 0 || rc == 1 || is_code(rc));
    CHECK(got <= sizeof buf);
  } while (rc == 0 && got > 0 && ++rounds < 10000);
  return rc;
}

static void server_handshake_case(const uint8_t *data, size_t size) {
  coio__tls_engine_t s;
  size_t off = 0;
  int rc = 0;
  CHECK(coio__tls_engine_init(&s, server_ctx, 1, NULL, NULL) == 0);
  while (off < size) {
    size_t n = 1 + (data[off] % 64) * 16; /* chunk sizes from the input */
    off++;
    if (n > size - off)
      n = size - off;
    CHECK(coio__tls_engine_feed(&s, data + off, n) == 0);
    off += n;
    rc = coio__tls_engine_handshake(&s);
    CHECK(rc == 0 || rc == 1 || is_code(rc));
    drain_out(&s);
    if (rc < 0) {
      CHECK(s.state == COIO__TLS_FAILED && s.msg[0]);
      CHECK(coio__tls_engine_handshake(&s) < 0); /* stays failed */
      break;
    }
    if (rc == 1)
      read_all(&s); /* (only with a valid client flight: unlikely) */
  }
  if (rc == 0 && off >= size) {
    coio__tls_engine_feed_eof(&s);
    rc = coio__tls_engine_handshake(&s);
    CHECK(rc == 0 || rc == 1 || is_code(rc));
  }
  coio__tls_engine_fini(&s);
}

static void record_layer_case(const uint8_t *data, size_t size) {
  coio__tls_engine_t c, s;
  size_t off = 0, done;
  int rc, i;
  CHECK(coio__tls_engine_init(&c, client_ctx, 0, "localhost", NULL) == 0);
  CHECK(coio__tls_engine_init(&s, server_ctx, 1, NULL, NULL) == 0);
  for (i = 0; i < 10 && (c.state == COIO__TLS_HANDSHAKE || s.state == COIO__TLS_HANDSHAKE); i++) {
    CHECK(coio__tls_engine_handshake(&c) >= 0);
    move(&c, &s);
    CHECK(coio__tls_engine_handshake(&s) >= 0);
    move(&s, &c);
  }
  CHECK(c.state == COIO__TLS_OPEN && s.state == COIO__TLS_OPEN);
  /* some genuine records first, so the fuzz bytes hit a live session */
  CHECK(coio__tls_engine_write(&c, "hello", 5, &done) == 0 && done == 5);
  move(&c, &s);
  CHECK(read_all(&s) == 0);
  while (off < size) {
    uint8_t op = data[off++];
    size_t n = 1 + (op >> 2) * 8;
    if (n > size - off)
      n = size - off;
    switch (op & 3) {
    case 0: /* raw bytes into the record layer */
    case 1:
      CHECK(coio__tls_engine_feed(&s, data + off, n) == 0);
      off += n;
      rc = read_all(&s);
      drain_out(&s);
      break;
    case 2: /* the server writes (fine until it failed) */
      rc = coio__tls_engine_write(&s, data + off, n, &done);
      CHECK(rc == 0 || is_code(rc));
      CHECK(done <= n);
      off += n;
      drain_out(&s);
      break;
    default: /* a shutdown */
      rc = coio__tls_engine_shutdown(&s);
      CHECK(rc == 0 || rc == 1 || is_code(rc));
      drain_out(&s);
      break;
    }
    if (s.state == COIO__TLS_FAILED) {
      CHECK(s.msg[0]);
      CHECK(read_all(&s) < 0); /* stays failed */
      break;
    }
  }
  coio__tls_engine_feed_eof(&s);
  read_all(&s);
  coio__tls_engine_fini(&c);
  coio__tls_engine_fini(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1)
    return 0;
  if (data[0] & 1)
    record_layer_case(data + 1, size - 1);
  else
    server_handshake_case(data + 1, size - 1);
  return 0;
}
