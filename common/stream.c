/* common/stream.c - streams (asyncio's streams.py): a stream protocol that
 * feeds a reader and tracks flow control for a writer, the reader's buffer
 * logic, and open_connection / start_server on top of create_connection /
 * create_server. Only the public transport API is used, so one
 * implementation serves every backend.
 *
 * The reader's buffer is one contiguous block, buf[start, end): appending
 * compacts or grows it, consuming advances start. A call waits only before
 * it consumes anything (check, wait, check again), which is what makes a
 * cancelled wait harmless: the bytes are still there for the next call.
 *
 * Lifetime: a stream (reader + writer + protocol state) is freed when its
 * owner released it (writer_free, or the server's handler ended), no
 * transport can still call it (connection_lost ran, or none was ever made)
 * and no connection attempt that might make one is still under way. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "coio/tls.h"
#include "stream_internal.h"
#include "transport_internal.h"

/* ---- waiting lists (drain, wait_closed): one future per waiting task ------ */

typedef struct waitnode {
  coio_future_t *f;
  int status, linked;
  struct waitnode *prev, *next;
} waitnode_t;

static int wait_on(coio_loop_t *loop, waitnode_t **list, int *status) {
  waitnode_t n;
  int rc;
  if (!coio_task_current())
    return COIO_ENOTASK;
  if ((rc = coio_future_new(loop, &n.f)) != 0)
    return rc;
  n.status = 0;
  n.linked = 1;
  n.prev = NULL;
  n.next = *list;
  if (*list)
    (*list)->prev = &n;
  *list = &n;
  rc = coio_await(n.f);
  if (n.linked) { /* cancelled: unlink ourselves */
    if (n.prev)
      n.prev->next = n.next;
    else
      *list = n.next;
    if (n.next)
      n.next->prev = n.prev;
  }
  coio_future_unref(n.f);
  *status = n.status;
  return rc;
}

static void wake_all(waitnode_t **list, int status) {
  waitnode_t *n = *list, *next;
  *list = NULL;
  for (; n; n = next) {
    next = n->next;
    n->linked = 0;
    n->status = status;
    if (!coio_future_done(n->f))
      coio_future_set_result(n->f, NULL, NULL);
  }
}

/* ---- the stream object -------------------------------------------------------- */

struct coio_stream_writer {
  struct coio__stream *s;
};

typedef struct server_ctx {
  coio_loop_t *loop;
  coio_stream_handler_t handler;
  void *data;
  size_t limit;
} server_ctx_t;

typedef struct coio__stream {
  struct coio_stream_reader reader;
  struct coio_stream_writer writer;
  coio_loop_t *loop;
  coio_transport_t *transport; /* from connection_made to connection_lost */
  int attached;                /* connection_made ran */
  int lost, lost_error;        /* connection_lost ran, with this error */
  int write_paused;
  int released;   /* the owner let go: free once nothing can call us */
  int connecting; /* an open_connection attempt may still make a transport */
  int upgrading;  /* start_tls: the handshake is under way */
  waitnode_t *drainers, *closers;
  const server_ctx_t *srv; /* server side: run srv->handler per client */
  int handler_started;
} coio__stream_t;

static void stream_free(coio__stream_t *s) {
  coio__stream_reader_fini(&s->reader);
  free(s);
}

static void maybe_free(coio__stream_t *s) {
  if (s->released && !s->connecting && (!s->attached || s->lost))
    stream_free(s);
}

static coio__stream_t *stream_new(coio_loop_t *loop, size_t limit) {
  coio__stream_t *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  coio__stream_reader_init(&s->reader, loop, limit);
  s->writer.s = s;
  s->loop = loop;
  return s;
}


/* ---- the reader ------------------------------------------------------------------ */

void coio__stream_reader_init(coio_stream_reader_t *r, coio_loop_t *loop, size_t limit) {
  memset(r, 0, sizeof *r);
  r->loop = loop;
  r->limit = limit ? limit : COIO_STREAM_DEFAULT_LIMIT;
}

void coio__stream_reader_fini(coio_stream_reader_t *r) {
  free(r->buf);
  r->buf = NULL;
  r->start = r->end = r->cap = 0;
}

static size_t buffered(const coio_stream_reader_t *r) { return r->end - r->start; }

static void wakeup(coio_stream_reader_t *r) {
  if (r->waiter && !coio_future_done(r->waiter))
    coio_future_set_result(r->waiter, NULL, NULL);
}

static void maybe_resume(coio_stream_reader_t *r) {
  if (r->paused && buffered(r) <= r->limit) {
    r->paused = 0;
    if (r->transport)
      coio_transport_resume_reading(r->transport);
  }
}

static void maybe_pause(coio_stream_reader_t *r) {
  if (r->transport && !r->paused && buffered(r) > 2 * r->limit) {
    r->paused = 1;
    coio_transport_pause_reading(r->transport);
  }
}

static void consume(coio_stream_reader_t *r, size_t n) {
  r->start += n;
  if (r->start == r->end)
    r->start = r->end = 0;
  maybe_resume(r);
}

int coio__stream_reader_feed(coio_stream_reader_t *r, const void *data, size_t n) {
  size_t have = buffered(r);
  if (n == 0)
    return 0;
  if (r->cap - r->end < n) {
    if (r->start > 0) { /* compact */
      memmove(r->buf, r->buf + r->start, have);
      r->start = 0;
      r->end = have;
    }
    if (r->cap - r->end < n) {
      size_t cap = r->cap ? r->cap : 4096;
      unsigned char *p;
      while (cap - have < n) {
        if (cap > SIZE_MAX / 2)
          return COIO_ENOMEM;
        cap *= 2;
      }
      if (!(p = realloc(r->buf, cap)))
        return COIO_ENOMEM;
      r->buf = p;
      r->cap = cap;
    }
  }
  memcpy(r->buf + r->end, data, n);
  r->end += n;
  wakeup(r);
  maybe_pause(r);
  return 0;
}

void coio__stream_reader_feed_eof(coio_stream_reader_t *r) {
  r->eof = 1;
  wakeup(r);
}

void coio__stream_reader_set_error(coio_stream_reader_t *r, int error) {
  r->error = error;
  wakeup(r);
}

/* asyncio's _wait_for_data: resumes a paused transport (the caller needs
 * more than is buffered), then waits for data, EOF or an error. */
static int wait_for_data(coio_stream_reader_t *r) {
  coio_future_t *f;
  int rc;
  if (r->waiter)
    return COIO_EBUSY;
  if (!r->loop)
    return COIO_EAGAIN;
  if (!coio_task_current())
    return COIO_ENOTASK;
  if (r->paused) {
    r->paused = 0;
    if (r->transport)
      coio_transport_resume_reading(r->transport);
  }
  if ((rc = coio_future_new(r->loop, &f)) != 0)
    return rc;
  r->waiter = f;
  rc = coio_await(f);
  r->waiter = NULL;
  coio_future_unref(f);
  return rc;
}

long coio_stream_read(coio_stream_reader_t *r, void *buf, size_t n) {
  size_t k;
  int rc;
  if (!r || (n && !buf))
    return COIO_EINVAL;
  if (r->error)
    return r->error;
  if (n == 0)
    return 0;
  while (buffered(r) == 0 && !r->eof) {
    if ((rc = wait_for_data(r)) != 0)
      return rc;
    if (r->error)
      return r->error;
  }
  k = buffered(r);
  if (k > n)
    k = n;
  if (k > LONG_MAX)
    k = LONG_MAX;
  if (k)
    memcpy(buf, r->buf + r->start, k);
  consume(r, k);
  return (long)k;
}

int coio_stream_read_all(coio_stream_reader_t *r, void **data, size_t *len) {
  unsigned char *p;
  size_t k;
  int rc;
  if (!r || !data || !len)
    return COIO_EINVAL;
  *data = NULL;
  *len = 0;
  for (;;) {
    if (r->error)
      return r->error;
    if (r->eof)
      break;
    if ((rc = wait_for_data(r)) != 0)
      return rc;
  }
  k = buffered(r);
  if (!(p = malloc(k + 1)))
    return COIO_ENOMEM;
  if (k)
    memcpy(p, r->buf + r->start, k);
  p[k] = 0;
  consume(r, k);
  *data = p;
  *len = k;
  return 0;
}

void coio_stream_data_free(void *data) { free(data); }

int coio_stream_readexactly(coio_stream_reader_t *r, void *buf, size_t n, size_t *nread) {
  size_t k;
  int rc;
  if (nread)
    *nread = 0;
  if (!r || (n && !buf))
    return COIO_EINVAL;
  if (r->error)
    return r->error;
  while (buffered(r) < n) {
    if (r->eof) {
      k = buffered(r);
      if (k)
        memcpy(buf, r->buf + r->start, k);
      consume(r, k);
      if (nread)
        *nread = k;
      return COIO_EINCOMPLETE;
    }
    if ((rc = wait_for_data(r)) != 0)
      return rc;
    if (r->error)
      return r->error;
  }
  if (n)
    memcpy(buf, r->buf + r->start, n);
  consume(r, n);
  if (nread)
    *nread = n;
  return 0;
}

/* The first occurrence of sep in hay[from, len), or (size_t)-1. */
static size_t find(const unsigned char *hay, size_t len, const unsigned char *sep, size_t seplen,
                   size_t from) {
  while (from + seplen <= len) {
    const unsigned char *p = memchr(hay + from, sep[0], len - from - seplen + 1);
    if (!p)
      return (size_t)-1;
    if (memcmp(p, sep, seplen) == 0)
      return (size_t)(p - hay);
    from = (size_t)(p - hay) + 1;
  }
  return (size_t)-1;
}

/* asyncio's readuntil up to the point of consuming: 0 with *end (the
 * match's end); COIO_EINCOMPLETE at EOF without a match; COIO_ELIMIT with
 * *end = the error's consumed; other errors. Consumes nothing. */
static int until(coio_stream_reader_t *r, const coio_buf_t *seps, size_t nseps, size_t *end) {
  size_t minlen = SIZE_MAX, maxlen = 0, offset = 0, i, mstart = 0, mend = 0;
  int rc;
  if (!r || !seps || nseps == 0)
    return COIO_EINVAL;
  for (i = 0; i < nseps; i++) {
    if (seps[i].len == 0 || !seps[i].base)
      return COIO_EINVAL;
    if (seps[i].len < minlen)
      minlen = seps[i].len;
    if (seps[i].len > maxlen)
      maxlen = seps[i].len;
  }
  for (;;) {
    size_t buflen;
    int found = 0;
    if (r->error)
      return r->error;
    buflen = buffered(r);
    if (offset > buflen) /* another task consumed while we waited */
      offset = 0;
    if (buflen - offset >= minlen) {
      for (i = 0; i < nseps; i++) {
        size_t at = find(r->buf + r->start, buflen, seps[i].base, seps[i].len, offset);
        if (at != (size_t)-1 && (!found || at + seps[i].len < mend)) {
          found = 1;
          mstart = at;
          mend = at + seps[i].len;
        }
      }
      if (found)
        break;
      offset = buflen + 1 > maxlen ? buflen + 1 - maxlen : 0;
      if (offset > r->limit) {
        *end = offset; /* separator not found, and the chunk exceeds the limit */
        return COIO_ELIMIT;
      }
    }
    if (r->eof)
      return COIO_EINCOMPLETE;
    if ((rc = wait_for_data(r)) != 0)
      return rc;
  }
  if (mstart > r->limit) {
    *end = mstart; /* found, but the chunk is longer than the limit */
    return COIO_ELIMIT;
  }
  *end = mend;
  return 0;
}

int coio_stream_readuntil_any(coio_stream_reader_t *r, const coio_buf_t *seps, size_t nseps,
                              void *buf, size_t size, size_t *nread) {
  size_t end = 0, k;
  int rc;
  if (nread)
    *nread = 0;
  if (size && !buf)
    return COIO_EINVAL;
  rc = until(r, seps, nseps, &end);
  if (rc == COIO_ELIMIT) {
    if (nread)
      *nread = end;
    return rc;
  }
  if (rc != 0 && rc != COIO_EINCOMPLETE)
    return rc;
  k = rc == 0 ? end : buffered(r);
  if (k > size) {
    if (nread)
      *nread = k;
    return COIO_ERANGE;
  }
  if (k)
    memcpy(buf, r->buf + r->start, k);
  consume(r, k);
  if (nread)
    *nread = k;
  return rc;
}

int coio_stream_readuntil(coio_stream_reader_t *r, const void *sep, size_t seplen, void *buf,
                          size_t size, size_t *nread) {
  coio_buf_t b;
  b.base = sep;
  b.len = seplen;
  return coio_stream_readuntil_any(r, &b, 1, buf, size, nread);
}

long coio_stream_readline(coio_stream_reader_t *r, void *buf, size_t size) {
  coio_buf_t nl;
  size_t end = 0, k;
  int rc;
  if (!r || (size && !buf))
    return COIO_EINVAL;
  nl.base = "\n";
  nl.len = 1;
  rc = until(r, &nl, 1, &end);
  if (rc == COIO_ELIMIT) {
    /* asyncio: drop the line through its separator if it is buffered,
     * else everything buffered */
    if (end < buffered(r) && r->buf[r->start + end] == '\n')
      consume(r, end + 1);
    else
      consume(r, buffered(r));
    return rc;
  }
  if (rc != 0 && rc != COIO_EINCOMPLETE)
    return rc;
  k = rc == 0 ? end : buffered(r);
  if (k > size)
    return COIO_ERANGE;
  if (k > LONG_MAX)
    return COIO_ERANGE;
  if (k)
    memcpy(buf, r->buf + r->start, k);
  consume(r, k);
  return (long)k;
}

int coio_stream_at_eof(const coio_stream_reader_t *r) { return r && r->eof && buffered(r) == 0; }

size_t coio_stream_buffered(const coio_stream_reader_t *r) { return r ? buffered(r) : 0; }

int coio_stream_set_limit(coio_stream_reader_t *r, size_t limit) {
  if (!r || limit == 0)
    return COIO_EINVAL;
  r->limit = limit;
  maybe_resume(r);
  maybe_pause(r);
  return 0;
}

size_t coio_stream_get_limit(const coio_stream_reader_t *r) { return r ? r->limit : 0; }

int coio_stream_reader_error(const coio_stream_reader_t *r) { return r ? r->error : COIO_EINVAL; }

/* ---- the protocol --------------------------------------------------------------------- */

static int handler_main(void *arg, void **result) {
  coio__stream_t *s = arg;
  (void)result;
  return s->srv->handler(&s->reader, &s->writer, s->srv->data);
}

/* The handler ended: its connection is closed and the stream released. */
static void handler_done(coio_future_t *task, void *arg) {
  coio__stream_t *s = arg;
  (void)task;
  if (s->transport && !s->lost)
    coio_transport_close(s->transport);
  s->released = 1;
  maybe_free(s);
}

static void p_made(coio_transport_t *t, void *ud) {
  coio__stream_t *s = ud;
  coio_task_t *task;
  s->transport = t;
  s->reader.transport = t;
  s->attached = 1;
  if (s->released) { /* its open_connection was cancelled */
    coio_transport_close(t);
    return;
  }
  if (s->srv) {
    if (coio_task_spawn(s->loop, handler_main, s, NULL, &task) != 0) {
      coio_transport_abort(t);
      s->released = 1;
      return;
    }
    s->handler_started = 1;
    if (coio_future_add_done_callback(task, handler_done, s) != 0) {
      /* cannot learn when it ends: never free (a leak, not a crash) */
      coio_transport_close(t);
    }
    coio_future_unref(task);
  }
}

static void p_data(coio_transport_t *t, const void *data, size_t n, void *ud) {
  coio__stream_t *s = ud;
  if (coio__stream_reader_feed(&s->reader, data, n) != 0) {
    coio__stream_reader_set_error(&s->reader, COIO_ENOMEM);
    coio_transport_abort(t);
  }
}

static int p_eof(coio_transport_t *t, void *ud) {
  coio__stream_t *s = ud;
  (void)t;
  coio__stream_reader_feed_eof(&s->reader);
  return 1; /* keep the write side open (asyncio, except over TLS) */
}

static void p_lost(coio_transport_t *t, int error, void *ud) {
  coio__stream_t *s = ud;
  (void)t;
  s->lost = 1;
  s->lost_error = error;
  s->attached = 1;
  s->transport = NULL;
  s->reader.transport = NULL;
  s->reader.paused = 0;
  if (error)
    coio__stream_reader_set_error(&s->reader, error);
  else
    coio__stream_reader_feed_eof(&s->reader);
  wake_all(&s->drainers, error ? error : COIO_ECONNRESET);
  wake_all(&s->closers, error);
  if (s->srv && !s->handler_started)
    s->released = 1;
  maybe_free(s);
}

static void p_pause(coio_transport_t *t, void *ud) {
  (void)t;
  ((coio__stream_t *)ud)->write_paused = 1;
}

static void p_resume(coio_transport_t *t, void *ud) {
  coio__stream_t *s = ud;
  (void)t;
  s->write_paused = 0;
  wake_all(&s->drainers, 0);
}

static const coio_protocol_t stream_protocol = {p_made,  p_data,   p_eof, p_lost,
                                                p_pause, p_resume, NULL,  NULL};

/* ---- the writer ------------------------------------------------------------------------ */

int coio_stream_write(coio_stream_writer_t *w, const void *data, size_t len) {
  if (!w)
    return COIO_EINVAL;
  if (w->s->upgrading)
    return COIO_EBUSY;
  if (!w->s->transport)
    return COIO_ECLOSED;
  return coio_transport_write(w->s->transport, data, len);
}

int coio_stream_writelines(coio_stream_writer_t *w, const coio_buf_t *bufs, size_t n) {
  if (!w)
    return COIO_EINVAL;
  if (w->s->upgrading)
    return COIO_EBUSY;
  if (!w->s->transport)
    return COIO_ECLOSED;
  return coio_transport_writelines(w->s->transport, bufs, n);
}

int coio_stream_write_eof(coio_stream_writer_t *w) {
  if (!w)
    return COIO_EINVAL;
  if (w->s->upgrading)
    return COIO_EBUSY;
  if (!w->s->transport)
    return COIO_ECLOSED;
  return coio_transport_write_eof(w->s->transport);
}

int coio_stream_can_write_eof(const coio_stream_writer_t *w) {
  return w && w->s->transport && coio_transport_can_write_eof(w->s->transport);
}

int coio_stream_drain(coio_stream_writer_t *w) {
  coio__stream_t *s;
  int rc, status = 0;
  if (!w)
    return COIO_EINVAL;
  s = w->s;
  if (s->reader.error)
    return s->reader.error;
  if (s->transport && coio_transport_is_closing(s->transport)) {
    /* asyncio: let connection_lost run, so its error is reported */
    if ((rc = coio_sleep(0)) != 0)
      return rc;
  }
  if (s->lost)
    return s->lost_error ? s->lost_error : COIO_ECONNRESET;
  if (!s->write_paused)
    return 0;
  if ((rc = wait_on(s->loop, &s->drainers, &status)) != 0)
    return rc;
  return status;
}

int coio_stream_close(coio_stream_writer_t *w) {
  if (!w)
    return COIO_EINVAL;
  if (w->s->transport)
    coio_transport_close(w->s->transport);
  return 0;
}

int coio_stream_is_closing(const coio_stream_writer_t *w) {
  return w && (!w->s->transport || coio_transport_is_closing(w->s->transport));
}

int coio_stream_wait_closed(coio_stream_writer_t *w) {
  int rc, status = 0;
  if (!w)
    return COIO_EINVAL;
  if (w->s->lost)
    return w->s->lost_error;
  if ((rc = wait_on(w->s->loop, &w->s->closers, &status)) != 0)
    return rc;
  return status;
}

void coio_stream_writer_free(coio_stream_writer_t *w) {
  coio__stream_t *s;
  if (!w)
    return;
  s = w->s;
  if (s->srv)
    return; /* a handler's stream: the server frees it */
  if (s->transport && !s->lost)
    coio_transport_close(s->transport);
  s->released = 1;
  maybe_free(s);
}

int coio_stream_peername(const coio_stream_writer_t *w, coio_sockaddr_t *addr) {
  if (!w)
    return COIO_EINVAL;
  return w->s->transport ? coio_transport_peername(w->s->transport, addr) : COIO_ECLOSED;
}

int coio_stream_sockname(const coio_stream_writer_t *w, coio_sockaddr_t *addr) {
  if (!w)
    return COIO_EINVAL;
  return w->s->transport ? coio_transport_sockname(w->s->transport, addr) : COIO_ECLOSED;
}

coio_socket_t coio_stream_socket(const coio_stream_writer_t *w) {
  return w && w->s->transport ? coio_transport_socket(w->s->transport) : COIO_INVALID_SOCKET;
}

coio_transport_t *coio_stream_transport(const coio_stream_writer_t *w) {
  return w ? w->s->transport : NULL;
}

coio_stream_reader_t *coio_stream_writer_reader(const coio_stream_writer_t *w) {
  return w ? &w->s->reader : NULL;
}

/* ---- start_tls ------------------------------------------------------------------------ */

/* asyncio's StreamWriter.start_tls: drain, then loop.start_tls on the
 * transport with the stream's own protocol, which goes on over the TLS
 * transport (reader and writer stay the same objects; what the reader
 * buffered stays). Meanwhile writes answer COIO_EBUSY and the reader does
 * not touch the plain transport, which TLS owns now. */
int coio_stream_start_tls(coio_stream_writer_t *w, coio_tls_context_t *ctx,
                          const coio_tls_options_t *opts) {
  coio__stream_t *s;
  coio_transport_t *up = NULL;
  coio_future_t *f;
  int rc;
  if (!w || !ctx)
    return COIO_EINVAL;
  s = w->s;
  if (!coio_task_current())
    return COIO_ENOTASK;
  if (s->upgrading)
    return COIO_EBUSY;
  if ((rc = coio_stream_drain(w)) != 0)
    return rc;
  if (!s->transport || s->lost)
    return s->lost_error ? s->lost_error : COIO_ECLOSED;
  if ((rc = coio_start_tls(s->transport, &stream_protocol, s, ctx, opts, &f)) != 0)
    return rc;
  s->upgrading = 1;
  s->reader.transport = NULL;
  rc = coio_await(f);
  s->upgrading = 0;
  if (rc == 0 && coio_future_result(f, (void **)&up) == 0 && up) {
    coio_future_unref(f);
    s->transport = up;
    s->reader.transport = up;
    s->reader.paused = 0;
    s->write_paused = 0;
    maybe_pause(&s->reader);
    if (s->released)
      coio_transport_close(up);
    return 0;
  }
  coio_future_unref(f);
  if (rc == 0)
    rc = COIO_ECONNRESET;
  /* The plain transport was closed under TLS's protocol: the stream's
   * connection is gone. */
  if (!s->lost)
    p_lost(NULL, rc == COIO_ECANCELED ? COIO_ECONNABORTED : rc, s);
  return rc;
}

/* ---- open_connection ----------------------------------------------------------------------- */

static void connect_done(coio_future_t *f, void *arg) {
  coio__stream_t *s = arg;
  (void)f;
  s->connecting = 0;
  maybe_free(s);
}

int coio__stream_make(coio_loop_t *loop, size_t limit, const coio_protocol_t **proto, void **ud,
                      coio_stream_writer_t **w) {
  coio__stream_t *s;
  if (!loop || !proto || !ud || !w)
    return COIO_EINVAL;
  if (!(s = stream_new(loop, limit)))
    return COIO_ENOMEM;
  *proto = &stream_protocol;
  *ud = s;
  *w = &s->writer;
  return 0;
}

int coio__stream_connecting(coio_stream_writer_t *w, coio_future_t *f) {
  int rc;
  if (!w || !f)
    return COIO_EINVAL;
  if ((rc = coio_future_add_done_callback(f, connect_done, w->s)) == 0)
    w->s->connecting = 1;
  return rc;
}

/* Opens a stream to host:port, over sock (use_sock), or to the Unix socket
 * at unix_path (not NULL). */
static int open_common(const char *host, int port, int use_sock, coio_socket_t sock,
                       const char *unix_path, const coio_stream_options_t *opts,
                       coio_stream_reader_t **reader, coio_stream_writer_t **writer) {
  coio_task_t *task = coio_task_current();
  coio_connect_options_t copts;
  coio__stream_t *s;
  coio_future_t *f;
  coio_loop_t *loop;
  int rc;
  if (!reader || !writer)
    return COIO_EINVAL;
  *reader = NULL;
  *writer = NULL;
  if (!task)
    return COIO_ENOTASK;
  loop = coio_future_loop(task);
  memset(&copts, 0, sizeof copts);
  if (opts && opts->connect)
    copts = *opts->connect;
  if (use_sock) {
    copts.use_sock = 1;
    copts.sock = sock;
    host = NULL;
  }
  if (!(s = stream_new(loop, opts ? opts->limit : 0)))
    return COIO_ENOMEM;
  rc = unix_path ? coio_create_unix_connection(loop, &stream_protocol, s, unix_path, &f)
                 : coio_create_connection(loop, &stream_protocol, s, host, port, &copts, &f);
  if (rc != 0) {
    stream_free(s);
    return rc;
  }
  if (coio_future_add_done_callback(f, connect_done, s) == 0)
    s->connecting = 1;
  rc = coio_await(f);
  /* The connection's reason (OpenSSL's for a TLS failure) becomes the
   * task's message, as asyncio's open_connection raises its exception. */
  if (rc != 0 && rc != COIO_ECANCELED && coio_future_message(f))
    coio_task_error(rc, coio_future_message(f));
  coio_future_unref(f);
  if (rc == 0) { /* connection_made ran (the connection may be gone already) */
    *reader = &s->reader;
    *writer = &s->writer;
    return 0;
  }
  s->released = 1;
  if (s->transport && !s->lost)
    coio_transport_close(s->transport);
  maybe_free(s);
  return rc;
}

int coio_open_connection(const char *host, int port, const coio_stream_options_t *opts,
                         coio_stream_reader_t **reader, coio_stream_writer_t **writer) {
  if (!host)
    return COIO_EINVAL;
  return open_common(host, port, 0, COIO_INVALID_SOCKET, NULL, opts, reader, writer);
}

int coio_open_unix_connection(const char *path, const coio_stream_options_t *opts,
                              coio_stream_reader_t **reader, coio_stream_writer_t **writer) {
  if (!path)
    return COIO_EINVAL;
  return open_common(NULL, 0, 0, COIO_INVALID_SOCKET, path, opts, reader, writer);
}

int coio_open_connection_sock(coio_socket_t sock, const coio_stream_options_t *opts,
                              coio_stream_reader_t **reader, coio_stream_writer_t **writer) {
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EINVAL;
  return open_common(NULL, 0, 1, sock, NULL, opts, reader, writer);
}

/* ---- start_server -------------------------------------------------------------------------- */

static int server_factory(void *data, const coio_protocol_t **proto, void **ud) {
  const server_ctx_t *ctx = data;
  coio__stream_t *s = stream_new(ctx->loop, ctx->limit);
  if (!s)
    return COIO_ENOMEM;
  s->srv = ctx;
  *proto = &stream_protocol;
  *ud = s;
  return 0;
}

/* Hands the context to the server (freed with it), or frees it. */
static void server_made(coio_future_t *f, void *arg) {
  coio_server_t *server = NULL;
  if (coio_future_result(f, (void **)&server) == 0 && server) {
    server->free_data = free;
    return;
  }
  free(arg);
}

/* start_server on host:port, or on the Unix socket at unix_path. */
static int start_common(coio_loop_t *loop, coio_stream_handler_t handler, void *data,
                        const char *host, int port, const char *unix_path,
                        const coio_stream_options_t *opts, coio_future_t **out) {
  server_ctx_t *ctx;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || !handler)
    return COIO_EINVAL;
  if (!(ctx = malloc(sizeof *ctx)))
    return COIO_ENOMEM;
  ctx->loop = loop;
  ctx->handler = handler;
  ctx->data = data;
  ctx->limit = opts && opts->limit ? opts->limit : COIO_STREAM_DEFAULT_LIMIT;
  rc = unix_path
           ? coio_create_unix_server(loop, server_factory, ctx, unix_path,
                                     opts ? opts->server : NULL, out)
           : coio_create_server(loop, server_factory, ctx, host, port, opts ? opts->server : NULL,
                                out);
  if (rc != 0) {
    free(ctx);
    return rc;
  }
  if ((rc = coio_future_add_done_callback(*out, server_made, ctx)) != 0) {
    coio_future_cancel(*out, NULL);
    coio_future_unref(*out);
    *out = NULL;
    /* the cancelled server task still ends, so ctx cannot be freed now
     * safely only if no server was made: it was not (cancelled first) */
    free(ctx);
  }
  return rc;
}

int coio_start_server(coio_loop_t *loop, coio_stream_handler_t handler, void *data,
                      const char *host, int port, const coio_stream_options_t *opts,
                      coio_future_t **out) {
  return start_common(loop, handler, data, host, port, NULL, opts, out);
}

int coio_start_unix_server(coio_loop_t *loop, coio_stream_handler_t handler, void *data,
                           const char *path, const coio_stream_options_t *opts,
                           coio_future_t **out) {
  if (!path) {
    if (out)
      *out = NULL;
    return COIO_EINVAL;
  }
  return start_common(loop, handler, data, NULL, 0, path, opts, out);
}
