/* tests/test_stream.c - streams (coio/stream.h) on every backend: every read
 * call with data arriving one byte at a time and in large chunks, limits,
 * EOF in every state, a slow reader against a fast writer (memory bounded
 * by the limits), many concurrent clients, cancellation in every blocking
 * call (no byte lost or duplicated), and Python's asyncio streams as the
 * peer (Linux). The reader's buffer logic is driven without sockets too,
 * through common/stream_internal.h. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stream_internal.h"
#include "harness.h"

#ifndef COIO_TEST_SOURCE_DIR
#define COIO_TEST_SOURCE_DIR "."
#endif

/* Runs fn(arg) as a task of loop to its end; returns its status. */
static int run_task(coio_loop_t *loop, coio_task_fn fn, void *arg) {
  coio_task_t *t;
  int rc;
  assert_int_equal(coio_task_spawn(loop, fn, arg, NULL, &t), 0);
  rc = coio_loop_run_until_complete(loop, t);
  coio_future_unref(t);
  return rc;
}

/* ---- a feeder: data into a socket-less reader, chunk by chunk, one chunk
 * per loop iteration ------------------------------------------------------- */

typedef struct feeder {
  coio_stream_reader_t *r;
  const unsigned char *data;
  size_t len, pos, chunk;
  int eof;
  coio_loop_t *loop;
} feeder_t;

static void feed_step(coio_loop_t *loop, void *arg) {
  feeder_t *f = arg;
  size_t n = f->len - f->pos;
  if (n > f->chunk)
    n = f->chunk;
  if (n) {
    assert_int_equal(coio__stream_reader_feed(f->r, f->data + f->pos, n), 0);
    f->pos += n;
  }
  if (f->pos < f->len)
    assert_int_equal(coio_call_soon(loop, feed_step, f, NULL), 0);
  else if (f->eof)
    coio__stream_reader_feed_eof(f->r);
}

static const char script[] =
    "first line\nsecond\n0123456789ABCDEFGHIJ--sep--tail-a||b##rest of the stream";

typedef struct chunk_test {
  coio_stream_reader_t *r;
} chunk_test_t;

static int chunked_reads(void *arg, void **result) {
  coio_stream_reader_t *r = ((chunk_test_t *)arg)->r;
  char buf[256];
  size_t n = 0;
  long k;
  void *all;
  size_t alllen;
  coio_buf_t seps[2];
  (void)result;
  k = coio_stream_readline(r, buf, sizeof buf);
  assert_int_equal(k, 11);
  assert_memory_equal(buf, "first line\n", 11);
  k = coio_stream_readline(r, buf, sizeof buf);
  assert_int_equal(k, 7);
  assert_memory_equal(buf, "second\n", 7);
  assert_int_equal(coio_stream_readexactly(r, buf, 10, &n), 0);
  assert_int_equal(n, 10);
  assert_memory_equal(buf, "0123456789", 10);
  k = coio_stream_read(r, buf, 3);
  assert_true(k >= 1 && k <= 3);
  assert_memory_equal(buf, "ABC", (size_t)k);
  assert_int_equal(coio_stream_readexactly(r, buf, 10 - (size_t)k, &n), 0);
  assert_memory_equal(buf + 10 - (size_t)k - 3, "HIJ", 3);
  assert_int_equal(coio_stream_readuntil(r, "--sep--", 7, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 7);
  assert_memory_equal(buf, "--sep--", 7);
  /* several separators: the match that ends first wins ("||" before "##") */
  seps[0].base = "##";
  seps[0].len = 2;
  seps[1].base = "||";
  seps[1].len = 2;
  assert_int_equal(coio_stream_readuntil_any(r, seps, 2, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 8);
  assert_memory_equal(buf, "tail-a||", 8);
  assert_int_equal(coio_stream_readuntil_any(r, seps, 2, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "b##", 3);
  assert_int_equal(coio_stream_read_all(r, &all, &alllen), 0);
  assert_int_equal(alllen, strlen("rest of the stream"));
  assert_memory_equal(all, "rest of the stream", alllen);
  coio_stream_data_free(all);
  assert_true(coio_stream_at_eof(r));
  assert_int_equal(coio_stream_read(r, buf, sizeof buf), 0);
  assert_int_equal(coio_stream_readline(r, buf, sizeof buf), 0);
  return 0;
}

static void every_read_call_with_chunks(size_t chunk) {
  coio_loop_t *loop = test_loop_new();
  coio_stream_reader_t r;
  feeder_t f;
  chunk_test_t ct;
  coio__stream_reader_init(&r, loop, 0);
  memset(&f, 0, sizeof f);
  f.r = &r;
  f.data = (const unsigned char *)script;
  f.len = strlen(script);
  f.chunk = chunk;
  f.eof = 1;
  assert_int_equal(coio_call_soon(loop, feed_step, &f, NULL), 0);
  ct.r = &r;
  assert_int_equal(run_task(loop, chunked_reads, &ct), 0);
  coio__stream_reader_fini(&r);
  test_loop_free(loop);
}

static void data_one_byte_at_a_time(void **state) {
  (void)state;
  every_read_call_with_chunks(1);
}

static void data_in_large_chunks(void **state) {
  (void)state;
  every_read_call_with_chunks(1u << 20);
}

/* ---- limits ------------------------------------------------------------------ */

static void limits_keep_data_as_asyncio(void **state) {
  coio_stream_reader_t r;
  char buf[64];
  size_t n = 0;
  (void)state;
  coio__stream_reader_init(&r, NULL, 8);
  assert_int_equal(coio_stream_get_limit(&r), 8);
  /* separator found beyond the limit: LimitOverrunError, nothing consumed */
  assert_int_equal(coio__stream_reader_feed(&r, "0123456789ab\nrest", 17), 0);
  assert_int_equal(coio_stream_readuntil(&r, "\n", 1, buf, sizeof buf, &n), COIO_ELIMIT);
  assert_int_equal(n, 12); /* consumed = where the separator starts */
  assert_int_equal(coio_stream_buffered(&r), 17);
  /* a larger limit makes it fit */
  assert_int_equal(coio_stream_set_limit(&r, 16), 0);
  assert_int_equal(coio_stream_readuntil(&r, "\n", 1, buf, sizeof buf, &n), 0);
  assert_int_equal(n, 13);
  /* not found and longer than the limit */
  assert_int_equal(coio_stream_set_limit(&r, 2), 0);
  assert_int_equal(coio_stream_readuntil(&r, "XY", 2, buf, sizeof buf, &n), COIO_ELIMIT);
  assert_int_equal(n, 3); /* buflen + 1 - seplen */
  assert_int_equal(coio_stream_buffered(&r), 4);
  /* a caller buffer too small: COIO_ERANGE, nothing consumed */
  assert_int_equal(coio_stream_set_limit(&r, 64), 0);
  assert_int_equal(coio__stream_reader_feed(&r, "\n", 1), 0);
  assert_int_equal(coio_stream_readuntil(&r, "\n", 1, buf, 2, &n), COIO_ERANGE);
  assert_int_equal(n, 5);
  assert_int_equal(coio_stream_readline(&r, buf, 2), COIO_ERANGE);
  assert_int_equal(coio_stream_buffered(&r), 5);
  /* readline over the limit: the line is dropped through its "\n" */
  assert_int_equal(coio_stream_set_limit(&r, 2), 0);
  assert_int_equal(coio__stream_reader_feed(&r, "ok\n", 3), 0);
  assert_int_equal(coio_stream_readline(&r, buf, sizeof buf), COIO_ELIMIT);
  assert_int_equal(coio_stream_readline(&r, buf, sizeof buf), 3);
  assert_memory_equal(buf, "ok\n", 3);
  /* ... or the whole buffer when the "\n" is not there */
  assert_int_equal(coio__stream_reader_feed(&r, "abcdefgh", 8), 0);
  assert_int_equal(coio_stream_readline(&r, buf, sizeof buf), COIO_ELIMIT);
  assert_int_equal(coio_stream_buffered(&r), 0);
  /* without a loop, a read that would wait says so and consumes nothing */
  assert_int_equal(coio__stream_reader_feed(&r, "ab", 2), 0);
  assert_int_equal(coio_stream_readexactly(&r, buf, 3, &n), COIO_EAGAIN);
  assert_int_equal(coio_stream_buffered(&r), 2);
  assert_int_equal(coio_stream_set_limit(&r, 0), COIO_EINVAL);
  assert_int_equal(coio_stream_readuntil(&r, "", 0, buf, sizeof buf, &n), COIO_EINVAL);
  coio__stream_reader_fini(&r);
}

/* ---- EOF in every state --------------------------------------------------------- */

static void eof_in_every_state(void **state) {
  coio_stream_reader_t r;
  char buf[64];
  size_t n = 99;
  void *all;
  (void)state;
  /* EOF on an empty buffer */
  coio__stream_reader_init(&r, NULL, 0);
  coio__stream_reader_feed_eof(&r);
  assert_true(coio_stream_at_eof(&r));
  assert_int_equal(coio_stream_read(&r, buf, sizeof buf), 0);
  assert_int_equal(coio_stream_readline(&r, buf, sizeof buf), 0);
  assert_int_equal(coio_stream_readexactly(&r, buf, 4, &n), COIO_EINCOMPLETE);
  assert_int_equal(n, 0);
  assert_int_equal(coio_stream_readuntil(&r, "x", 1, buf, sizeof buf, &n), COIO_EINCOMPLETE);
  assert_int_equal(n, 0);
  assert_int_equal(coio_stream_read_all(&r, &all, &n), 0);
  assert_int_equal(n, 0);
  coio_stream_data_free(all);
  coio__stream_reader_fini(&r);
  /* EOF with a partial line / record buffered */
  coio__stream_reader_init(&r, NULL, 0);
  assert_int_equal(coio__stream_reader_feed(&r, "abc", 3), 0);
  coio__stream_reader_feed_eof(&r);
  assert_false(coio_stream_at_eof(&r));
  assert_int_equal(coio_stream_readexactly(&r, buf, 4, &n), COIO_EINCOMPLETE);
  assert_int_equal(n, 3); /* the partial bytes are the caller's, and consumed */
  assert_memory_equal(buf, "abc", 3);
  assert_true(coio_stream_at_eof(&r));
  coio__stream_reader_fini(&r);
  coio__stream_reader_init(&r, NULL, 0);
  assert_int_equal(coio__stream_reader_feed(&r, "abc", 3), 0);
  coio__stream_reader_feed_eof(&r);
  assert_int_equal(coio_stream_readuntil(&r, "\r\n", 2, buf, sizeof buf, &n), COIO_EINCOMPLETE);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "abc", 3);
  coio__stream_reader_fini(&r);
  coio__stream_reader_init(&r, NULL, 0);
  assert_int_equal(coio__stream_reader_feed(&r, "abc", 3), 0);
  coio__stream_reader_feed_eof(&r);
  assert_int_equal(coio_stream_readline(&r, buf, sizeof buf), 3);
  assert_int_equal(coio_stream_readline(&r, buf, sizeof buf), 0);
  coio__stream_reader_fini(&r);
  coio__stream_reader_init(&r, NULL, 0);
  assert_int_equal(coio__stream_reader_feed(&r, "abc", 3), 0);
  coio__stream_reader_feed_eof(&r);
  assert_int_equal(coio_stream_read(&r, buf, 2), 2);
  assert_int_equal(coio_stream_read(&r, buf, 2), 1);
  assert_int_equal(coio_stream_read(&r, buf, 2), 0);
  coio__stream_reader_fini(&r);
  /* an error wins over buffered data (asyncio raises the exception) */
  coio__stream_reader_init(&r, NULL, 0);
  assert_int_equal(coio__stream_reader_feed(&r, "abc", 3), 0);
  coio__stream_reader_set_error(&r, COIO_ECONNRESET);
  assert_int_equal(coio_stream_read(&r, buf, 2), COIO_ECONNRESET);
  assert_int_equal(coio_stream_reader_error(&r), COIO_ECONNRESET);
  coio__stream_reader_fini(&r);
}

/* EOF arriving while each call waits (with a loop). */
typedef struct eof_wait {
  coio_stream_reader_t *r;
  int op;
  int rc;
  size_t n;
} eof_wait_t;

static int op_on(coio_stream_reader_t *r, int op, char *buf, size_t size, size_t *n) {
  long k;
  void *all;
  switch (op) {
  case 0:
    k = coio_stream_read(r, buf, size);
    *n = k > 0 ? (size_t)k : 0;
    return k < 0 ? (int)k : 0;
  case 1:
    k = coio_stream_readline(r, buf, size);
    *n = k > 0 ? (size_t)k : 0;
    return k < 0 ? (int)k : 0;
  case 2:
    return coio_stream_readexactly(r, buf, 6, n);
  case 3:
    return coio_stream_readuntil(r, "!!", 2, buf, size, n);
  default: {
    int rc = coio_stream_read_all(r, &all, n);
    if (rc == 0) {
      memcpy(buf, all, *n < size ? *n : size);
      coio_stream_data_free(all);
    }
    return rc;
  }
  }
}
#define NOPS 5

static int eof_waiter(void *arg, void **result) {
  eof_wait_t *e = arg;
  char buf[64];
  (void)result;
  e->rc = op_on(e->r, e->op, buf, sizeof buf, &e->n);
  return 0;
}

static void eof_while_waiting(void **state) {
  coio_loop_t *loop = test_loop_new();
  int op;
  (void)state;
  for (op = 0; op < NOPS; op++) {
    coio_stream_reader_t r;
    eof_wait_t e;
    coio_task_t *t;
    coio__stream_reader_init(&r, loop, 0);
    e.r = &r;
    e.op = op;
    e.rc = 1;
    e.n = 99;
    assert_int_equal(coio__stream_reader_feed(&r, "ab", 2), 0);
    if (op == 0)
      coio_stream_read(&r, (char[2]){0}, 2); /* read must find the buffer empty */
    assert_int_equal(coio_task_spawn(loop, eof_waiter, &e, NULL, &t), 0);
    assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
    assert_int_equal(test_run_bounded(loop, 10), 0);
    assert_false(coio_future_done(t)); /* it waits */
    coio__stream_reader_feed_eof(&r);
    assert_int_equal(coio_loop_run_until_complete(loop, t), 0);
    coio_future_unref(t);
    switch (op) {
    case 0:
      assert_int_equal(e.rc, 0);
      assert_int_equal(e.n, 0);
      break;
    case 1:
    case 4:
      assert_int_equal(e.rc, 0);
      assert_int_equal(e.n, 2);
      break;
    default:
      assert_int_equal(e.rc, COIO_EINCOMPLETE);
      assert_int_equal(e.n, 2);
    }
    coio__stream_reader_fini(&r);
  }
  test_loop_free(loop);
}

/* ---- cancellation in every blocking call -------------------------------------- */

static void cancel_every_read_call(void **state) {
  coio_loop_t *loop = test_loop_new();
  int op;
  (void)state;
  for (op = 0; op < NOPS; op++) {
    coio_stream_reader_t r;
    eof_wait_t e;
    coio_task_t *t;
    char buf[64];
    size_t n = 0;
    coio__stream_reader_init(&r, loop, 0);
    e.r = &r;
    e.op = op;
    e.rc = 1;
    if (op != 0) /* some bytes already there: the call still waits */
      assert_int_equal(coio__stream_reader_feed(&r, "ab", 2), 0);
    assert_int_equal(coio_task_spawn(loop, eof_waiter, &e, NULL, &t), 0);
    assert_int_equal(coio_call_later(loop, 0.01, test_stop_cb, NULL, NULL), 0);
    assert_int_equal(test_run_bounded(loop, 10), 0);
    assert_false(coio_future_done(t));
    assert_int_equal(coio_task_cancel(t, NULL), 0);
    assert_int_equal(coio_loop_run_until_complete(loop, t), 0);
    assert_int_equal(e.rc, COIO_ECANCELED);
    coio_future_unref(t);
    /* nothing was consumed; the rest arrives; every byte is read once */
    assert_int_equal(coio_stream_buffered(&r), op != 0 ? 2u : 0u);
    if (op == 0)
      assert_int_equal(coio__stream_reader_feed(&r, "ab", 2), 0);
    assert_int_equal(coio__stream_reader_feed(&r, "cd\n!!ef", 7), 0);
    coio__stream_reader_feed_eof(&r);
    assert_int_equal(op_on(&r, 4, buf, sizeof buf, &n), 0);
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "abcd\n!!ef", 9);
    coio__stream_reader_fini(&r);
  }
  test_loop_free(loop);
}

/* Two streams over a socket pair. */
typedef struct pair_streams {
  coio_stream_reader_t *r[2];
  coio_stream_writer_t *w[2];
} pair_streams_t;

static int open_pair(void *arg, void **result) {
  pair_streams_t *p = arg;
  coio_socket_t s[2];
  int i;
  (void)result;
  assert_int_equal(coio_socketpair(s), 0);
  for (i = 0; i < 2; i++)
    assert_int_equal(coio_open_connection_sock(s[i], NULL, &p->r[i], &p->w[i]), 0);
  return 0;
}

typedef struct drainer {
  coio_stream_writer_t *w;
  size_t written;
  int rc;
} drainer_t;

static int drain_forever(void *arg, void **result) {
  drainer_t *d = arg;
  static unsigned char block[65536];
  (void)result;
  for (;;) {
    size_t i;
    for (i = 0; i < sizeof block; i++)
      block[i] = (unsigned char)(d->written + i);
    assert_int_equal(coio_stream_write(d->w, block, sizeof block), 0);
    d->written += sizeof block;
    if ((d->rc = coio_stream_drain(d->w)) != 0)
      return 0;
  }
}

typedef struct counter {
  coio_stream_reader_t *r;
  size_t total;
  int bad;
} counter_t;

static int count_all(void *arg, void **result) {
  counter_t *c = arg;
  unsigned char buf[4096];
  long k, i;
  (void)result;
  while ((k = coio_stream_read(c->r, buf, sizeof buf)) > 0) {
    for (i = 0; i < k; i++)
      if (buf[i] != (unsigned char)(c->total + (size_t)i))
        c->bad = 1;
    c->total += (size_t)k;
  }
  return k < 0 ? (int)k : 0;
}

static void cancel_drain(void **state) {
  coio_loop_t *loop = test_loop_new();
  pair_streams_t p;
  drainer_t d = {NULL, 0, 1};
  counter_t c = {NULL, 0, 0};
  coio_task_t *t;
  (void)state;
  assert_int_equal(run_task(loop, open_pair, &p), 0);
  d.w = p.w[0];
  assert_int_equal(coio_task_spawn(loop, drain_forever, &d, NULL, &t), 0);
  assert_int_equal(coio_call_later(loop, 0.2, test_stop_cb, NULL, NULL), 0);
  assert_int_equal(test_run_bounded(loop, 10), 0);
  assert_false(coio_future_done(t)); /* blocked in drain: nobody reads */
  assert_int_equal(coio_task_cancel(t, NULL), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, t), 0);
  assert_int_equal(d.rc, COIO_ECANCELED);
  coio_future_unref(t);
  /* everything written arrives exactly once */
  assert_int_equal(coio_stream_write_eof(p.w[0]), 0);
  c.r = p.r[1];
  assert_int_equal(run_task(loop, count_all, &c), 0);
  assert_int_equal(c.total, d.written);
  assert_int_equal(c.bad, 0);
  coio_stream_writer_free(p.w[0]);
  coio_stream_writer_free(p.w[1]);
  assert_int_equal(coio_call_later(loop, 0.05, test_stop_cb, NULL, NULL), 0);
  test_run_bounded(loop, 10);
  test_loop_free(loop);
}

/* ---- a slow reader against a fast writer ---------------------------------------- */

#define SLOW_TOTAL (8u * 1024u * 1024u)
#define SLOW_LIMIT (16u * 1024u)

typedef struct slow {
  coio_stream_reader_t *r;
  coio_stream_writer_t *w;
  size_t total, max_buffered;
  int bad;
} slow_t;

static int fast_writer(void *arg, void **result) {
  slow_t *s = arg;
  static unsigned char block[100000];
  size_t sent = 0, i;
  (void)result;
  while (sent < SLOW_TOTAL) {
    size_t n = sizeof block;
    if (n > SLOW_TOTAL - sent)
      n = SLOW_TOTAL - sent;
    for (i = 0; i < n; i++)
      block[i] = (unsigned char)((sent + i) * 7u);
    assert_int_equal(coio_stream_write(s->w, block, n), 0);
    sent += n;
    assert_int_equal(coio_stream_drain(s->w), 0);
    /* the writer's own buffer stays bounded by its high-water mark */
    assert_true(coio_transport_get_write_buffer_size(coio_stream_transport(s->w)) <=
                64u * 1024u + sizeof block);
  }
  assert_int_equal(coio_stream_write_eof(s->w), 0);
  return 0;
}

static int slow_reader(void *arg, void **result) {
  slow_t *s = arg;
  unsigned char buf[1000];
  long k, i;
  unsigned iter = 0;
  (void)result;
  while ((k = coio_stream_read(s->r, buf, sizeof buf)) > 0) {
    for (i = 0; i < k; i++)
      if (buf[i] != (unsigned char)((s->total + (size_t)i) * 7u))
        s->bad = 1;
    s->total += (size_t)k;
    if (coio_stream_buffered(s->r) > s->max_buffered)
      s->max_buffered = coio_stream_buffered(s->r);
    if (++iter % 16 == 0)
      coio_sleep(0);
  }
  return k < 0 ? (int)k : 0;
}

static void slow_reader_fast_writer(void **state) {
  coio_loop_t *loop = test_loop_new();
  pair_streams_t p;
  slow_t s;
  coio_task_t *tw, *tr;
  (void)state;
  assert_int_equal(run_task(loop, open_pair, &p), 0);
  memset(&s, 0, sizeof s);
  s.w = p.w[0];
  s.r = p.r[1];
  assert_int_equal(coio_stream_set_limit(s.r, SLOW_LIMIT), 0);
  assert_int_equal(coio_task_spawn(loop, fast_writer, &s, NULL, &tw), 0);
  assert_int_equal(coio_task_spawn(loop, slow_reader, &s, NULL, &tr), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, tr), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, tw), 0);
  coio_future_unref(tw);
  coio_future_unref(tr);
  assert_int_equal(s.total, SLOW_TOTAL);
  assert_int_equal(s.bad, 0);
  /* paused above 2 * limit: at most that plus one transport read */
  assert_true(s.max_buffered <= 2 * SLOW_LIMIT + 256u * 1024u);
  coio_stream_writer_free(p.w[0]);
  coio_stream_writer_free(p.w[1]);
  assert_int_equal(coio_call_later(loop, 0.05, test_stop_cb, NULL, NULL), 0);
  test_run_bounded(loop, 10);
  test_loop_free(loop);
}

/* ---- many concurrent clients of a stream server ----------------------------------- */

#define NCLIENTS 200

typedef struct many {
  int port;
  int ok, handled;
} many_t;

static int echo_lines(coio_stream_reader_t *r, coio_stream_writer_t *w, void *data) {
  many_t *m = data;
  char line[256];
  long k;
  while ((k = coio_stream_readline(r, line, sizeof line)) > 0) {
    coio_stream_write(w, line, (size_t)k);
    if (coio_stream_drain(w) != 0)
      break;
  }
  m->handled++;
  return 0;
}

typedef struct one_client {
  many_t *m;
  int i;
} one_client_t;

static int client_main(void *arg, void **result) {
  one_client_t *c = arg;
  coio_stream_reader_t *r;
  coio_stream_writer_t *w;
  char msg[64], back[64];
  size_t n;
  int len;
  (void)result;
  if (coio_open_connection("127.0.0.1", c->m->port, NULL, &r, &w) != 0)
    return COIO_EIO;
  len = snprintf(msg, sizeof msg, "hello from client %d\n", c->i);
  coio_stream_write(w, msg, (size_t)len);
  if (coio_stream_readexactly(r, back, (size_t)len, &n) == 0 && memcmp(back, msg, (size_t)len) == 0)
    c->m->ok++;
  coio_stream_write_eof(w);
  assert_int_equal(coio_stream_read(r, back, sizeof back), 0); /* the server closes */
  coio_stream_close(w);
  coio_stream_wait_closed(w);
  coio_stream_writer_free(w);
  return 0;
}

static void many_concurrent_clients(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f, *g;
  coio_server_t *server;
  coio_sockaddr_t addr;
  many_t m = {0, 0, 0};
  static one_client_t cs[NCLIENTS];
  coio_future_t *tasks[NCLIENTS];
  int i;
  (void)state;
  assert_int_equal(coio_start_server(loop, echo_lines, &m, "127.0.0.1", 0, NULL, &f), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  assert_int_equal(coio_future_result(f, (void **)&server), 0);
  coio_future_unref(f);
  assert_int_equal(coio_server_sockname(server, 0, &addr), 0);
  m.port = coio_sockaddr_port(&addr);
  for (i = 0; i < NCLIENTS; i++) {
    cs[i].m = &m;
    cs[i].i = i;
    assert_int_equal(coio_task_spawn(loop, client_main, &cs[i], NULL, &tasks[i]), 0);
  }
  assert_int_equal(coio_gather(loop, tasks, NCLIENTS, 0, &g), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, g), 0);
  coio_future_unref(g);
  for (i = 0; i < NCLIENTS; i++)
    coio_future_unref(tasks[i]);
  assert_int_equal(m.ok, NCLIENTS);
  assert_int_equal(coio_server_close(server), 0);
  assert_int_equal(coio_call_later(loop, 0.1, test_stop_cb, NULL, NULL), 0);
  test_run_bounded(loop, 10);
  assert_int_equal(m.handled, NCLIENTS);
  assert_int_equal(coio_server_free(server), 0);
  test_loop_free(loop);
}

/* ---- Unix sockets (Linux) ------------------------------------------------------------ */

#ifdef __linux__
#include <unistd.h>

typedef struct unix_client {
  const char *path;
  int ok;
} unix_client_t;

static int unix_client_main(void *arg, void **result) {
  unix_client_t *c = arg;
  coio_stream_reader_t *r;
  coio_stream_writer_t *w;
  char back[32];
  size_t n;
  int rc;
  (void)result;
  if ((rc = coio_open_unix_connection(c->path, NULL, &r, &w)) != 0)
    return rc;
  coio_stream_write(w, "over a unix socket\n", 19);
  if (coio_stream_readexactly(r, back, 19, &n) == 0 && memcmp(back, "over a unix socket\n", 19) == 0)
    c->ok = 1;
  coio_stream_write_eof(w);
  coio_stream_read(r, back, sizeof back); /* EOF: the server closes */
  coio_stream_close(w);
  coio_stream_wait_closed(w);
  coio_stream_writer_free(w);
  return 0;
}

static void streams_over_unix_sockets(void **state) {
  char abstract[64], file[96];
  const char *paths[2];
  int k;
  (void)state;
  snprintf(abstract, sizeof abstract, "@coio-test-stream-%d", (int)getpid());
  snprintf(file, sizeof file, "/tmp/coio-test-stream-%d.sock", (int)getpid());
  paths[0] = abstract;
  paths[1] = file;
  for (k = 0; k < 2; k++) {
    coio_loop_t *loop = test_loop_new();
    many_t m = {0, 0, 0};
    unix_client_t c = {paths[k], 0};
    coio_future_t *f;
    coio_task_t *t;
    coio_server_t *server;
    assert_int_equal(coio_start_unix_server(loop, echo_lines, &m, paths[k], NULL, &f), 0);
    assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
    assert_int_equal(coio_future_result(f, (void **)&server), 0);
    coio_future_unref(f);
    assert_int_equal(coio_task_spawn(loop, unix_client_main, &c, NULL, &t), 0);
    assert_int_equal(coio_call_later(loop, 20, test_stop_cb, NULL, NULL), 0);
    assert_int_equal(coio_loop_run_until_complete(loop, t), 0);
    coio_future_unref(t);
    assert_int_equal(c.ok, 1);
    assert_int_equal(coio_server_close(server), 0);
    assert_int_equal(coio_call_later(loop, 0.1, test_stop_cb, NULL, NULL), 0);
    test_run_bounded(loop, 10);
    assert_int_equal(coio_server_free(server), 0);
    test_loop_free(loop);
  }
  unlink(file);
}
#endif

/* ---- Python's asyncio streams as the peer (Linux) ------------------------------------ */

#ifdef __linux__
#define PY_SIZE (4u * 1024u * 1024u)

typedef struct pyc {
  int port;
  int ok;
} pyc_t;

typedef struct py_send {
  coio_stream_writer_t *w;
  const unsigned char *data;
} py_send_t;

static int py_sender(void *arg, void **result) {
  py_send_t *s = arg;
  size_t off = 0, n;
  unsigned seed = 99;
  (void)result;
  while (off < PY_SIZE) {
    n = 1 + (seed = seed * 1664525u + 1013904223u) % 70000u;
    if (n > PY_SIZE - off)
      n = PY_SIZE - off;
    assert_int_equal(coio_stream_write(s->w, s->data + off, n), 0);
    off += n;
    assert_int_equal(coio_stream_drain(s->w), 0);
  }
  assert_int_equal(coio_stream_write_eof(s->w), 0);
  return 0;
}

static int py_client(void *arg, void **result) {
  pyc_t *p = arg;
  coio_stream_reader_t *r;
  coio_stream_writer_t *w;
  unsigned char *data = malloc(PY_SIZE), *got = malloc(PY_SIZE);
  py_send_t s;
  coio_task_t *t;
  size_t i, n = 0;
  void *rest;
  size_t restlen;
  (void)result;
  assert_non_null(data);
  assert_non_null(got);
  for (i = 0; i < PY_SIZE; i++)
    data[i] = (unsigned char)(i * 31u + (i >> 9));
  assert_int_equal(coio_open_connection("127.0.0.1", p->port, NULL, &r, &w), 0);
  s.w = w;
  s.data = data;
  assert_int_equal(coio_task_spawn(coio_future_loop(coio_task_current()), py_sender, &s, NULL, &t), 0);
  /* read the echo back with every kind of call */
  assert_int_equal(coio_stream_readexactly(r, got, 1000, &n), 0);
  assert_true(coio_stream_read(r, got + 1000, 5000) > 0);
  assert_int_equal(coio_stream_read_all(r, &rest, &restlen), 0);
  assert_int_equal(coio_await(t), 0);
  coio_future_unref(t);
  /* 1000 + read's count + restlen == PY_SIZE, and the bytes match */
  {
    size_t first = PY_SIZE - restlen;
    assert_true(first > 1000 && first <= 6000);
    assert_memory_equal(got, data, first);
    assert_memory_equal(rest, data + first, restlen);
  }
  coio_stream_data_free(rest);
  coio_stream_close(w);
  assert_int_equal(coio_stream_wait_closed(w), 0);
  coio_stream_writer_free(w);
  free(data);
  free(got);
  p->ok = 1;
  return 0;
}

static void coio_streams_against_python_asyncio(void **state) {
  coio_loop_t *loop = test_loop_new();
  char cmd[512], line[64];
  FILE *py;
  pyc_t p = {0, 0};
  (void)state;
  snprintf(cmd, sizeof cmd, "python3 %s/interop/echo_server.py", COIO_TEST_SOURCE_DIR);
  py = popen(cmd, "r");
  assert_non_null(py);
  assert_non_null(fgets(line, sizeof line, py));
  p.port = atoi(line);
  assert_true(p.port > 0);
  assert_int_equal(run_task(loop, py_client, &p), 0);
  assert_int_equal(pclose(py), 0);
  assert_int_equal(p.ok, 1);
  test_loop_free(loop);
}

/* Python's asyncio.open_connection client against coio's start_server. */
static int echo_all(coio_stream_reader_t *r, coio_stream_writer_t *w, void *data) {
  char buf[65536];
  long k;
  (void)data;
  while ((k = coio_stream_read(r, buf, sizeof buf)) > 0) {
    coio_stream_write(w, buf, (size_t)k);
    if (coio_stream_drain(w) != 0)
      return COIO_EIO;
  }
  coio_stream_write_eof(w);
  return 0;
}

typedef struct pyrun {
  int port, status;
} pyrun_t;

static int run_python_client(void *arg, void **result) {
  pyrun_t *p = arg;
  char cmd[512];
  (void)result;
  snprintf(cmd, sizeof cmd, "python3 %s/interop/echo_client.py %d %u 11", COIO_TEST_SOURCE_DIR,
           p->port, 8u * 1024u * 1024u);
  p->status = system(cmd);
  return 0;
}

static void python_asyncio_against_coio_start_server(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f, *job;
  coio_server_t *server;
  coio_sockaddr_t addr;
  pyrun_t p = {0, -1};
  (void)state;
  assert_int_equal(coio_start_server(loop, echo_all, NULL, "127.0.0.1", 0, NULL, &f), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, f), 0);
  assert_int_equal(coio_future_result(f, (void **)&server), 0);
  coio_future_unref(f);
  assert_int_equal(coio_server_sockname(server, 0, &addr), 0);
  p.port = coio_sockaddr_port(&addr);
  assert_int_equal(coio_run_in_executor(loop, NULL, run_python_client, &p, NULL, &job), 0);
  assert_int_equal(coio_loop_run_until_complete(loop, job), 0);
  coio_future_unref(job);
  assert_int_equal(p.status, 0);
  assert_int_equal(coio_server_close(server), 0);
  assert_int_equal(coio_call_later(loop, 0.1, test_stop_cb, NULL, NULL), 0);
  test_run_bounded(loop, 10);
  assert_int_equal(coio_server_free(server), 0);
  test_loop_free(loop);
}
#endif

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(data_one_byte_at_a_time),
    cmocka_unit_test(data_in_large_chunks),
    cmocka_unit_test(limits_keep_data_as_asyncio),
    cmocka_unit_test(eof_in_every_state),
    cmocka_unit_test(eof_while_waiting),
    cmocka_unit_test(cancel_every_read_call),
    cmocka_unit_test(cancel_drain),
    cmocka_unit_test(slow_reader_fast_writer),
    cmocka_unit_test(many_concurrent_clients),
#ifdef __linux__
    cmocka_unit_test(coio_streams_against_python_asyncio),
    cmocka_unit_test(python_asyncio_against_coio_start_server),
    cmocka_unit_test(streams_over_unix_sockets),
#endif
};

TEST_MAIN("stream", tests)
