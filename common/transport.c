/* common/transport.c - the transport core: the public transport calls, the
 * state machine they drive, and the callbacks drivers make into it (see
 * transport_internal.h for the seam and the memory rule).
 *
 * States: open -> CLOSING (close: flush first; abort/fatal: at once) ->
 * LOST (connection_lost scheduled) -> connection_lost ran, driver closed,
 * the core's reference dropped -> freed when the driver's references are
 * gone too. Protocol callbacks are only ever called from loop callbacks or
 * driver completions, never from inside the user's transport call, except
 * pause_writing, which asyncio also calls from inside write(). */
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "transport_internal.h"

#define DEFAULT_HIGH (64u * 1024u)

void coio__transport_ref(coio_transport_t *t) { t->refs++; }

void coio__transport_unref(coio_transport_t *t) {
  if (--t->refs > 0)
    return;
  coio__wbuf_free(&t->wbuf);
  free(t);
}

static void unref_cb(void *arg) { coio__transport_unref(arg); }

/* Nothing left to send. A stream's buffer keeps an empty block for reuse,
 * so bytes count; a datagram endpoint's unit is the queued datagram. */
static int drained(const coio_transport_t *t) {
  return t->datagram ? t->wbuf.nblocks == 0 : t->wbuf.size == 0;
}

/* ---- connection_lost -------------------------------------------------------- */

static void server_client_gone(coio_transport_t *t);

static void call_lost(coio_loop_t *loop, void *arg) {
  coio_transport_t *t = arg;
  (void)loop;
  if (t->datagram) {
    if (t->dproto->connection_lost)
      t->dproto->connection_lost(t, t->lost_error, t->user_data);
  } else if (t->proto->connection_lost) {
    t->proto->connection_lost(t, t->lost_error, t->user_data);
  }
  if (!(t->flags & COIO__T_DRIVER_CLOSED)) {
    t->flags |= COIO__T_DRIVER_CLOSED;
    t->drv->close(t);
  }
  server_client_gone(t);
  coio__transport_unref(t); /* the core's own reference */
}

static void schedule_lost(coio_transport_t *t);

/* Schedules connection_lost(error) once. The socket stays open until it
 * has run (asyncio closes it after the callback), but no more data is
 * delivered and nothing more is sent. */
static void lose(coio_transport_t *t, int error) {
  if (t->flags & COIO__T_LOST)
    return;
  t->flags |= COIO__T_LOST | COIO__T_CLOSING;
  t->lost_error = error;
  t->drv->read_stop(t);
  if (t->flags & COIO__T_TLS) {
    /* A layered transport closes what is below first and reports
     * connection_lost once that is gone (coio__transport_layer_closed),
     * as asyncio's sslproto: the protocol hears of it last. */
    t->flags |= COIO__T_DRIVER_CLOSED;
    t->drv->close(t);
    return;
  }
  schedule_lost(t);
}

void coio__transport_layer_closed(coio_transport_t *t) { schedule_lost(t); }

static void schedule_lost(coio_transport_t *t) {
  coio__transport_ref(t);
  if (coio__cb_schedule(t->loop, call_lost, t, unref_cb, NULL) == 0) {
    coio__transport_unref(t); /* the scheduled call borrows the core's ref */
    return;
  }
  /* Out of memory for a ready-ring entry: do it now rather than never. */
  coio__transport_unref(t);
  call_lost(t->loop, t);
}

/* The buffer is flushed and close() was asked: lost now, or after the
 * driver's own closing handshake (t->shutdown: TLS's close_notify). */
static void finish_close(coio_transport_t *t) {
  if (t->flags & COIO__T_LOST)
    return;
  if (!t->shutdown) {
    lose(t, 0);
  } else if (!(t->flags & COIO__T_SHUTTING)) {
    t->flags |= COIO__T_SHUTTING;
    t->shutdown(t);
  }
}

void coio__transport_shutdown_done(coio_transport_t *t, int error) { lose(t, error); }

/* ---- creating and starting -------------------------------------------------------- */

coio_transport_t *coio__transport_new(coio_loop_t *loop, coio_socket_t fd, int datagram,
                                      const void *proto, void *user_data) {
  coio_transport_t *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->loop = loop;
  t->drv = coio__loop_backend_table(loop)->driver;
  t->datagram = datagram;
  if (datagram)
    t->dproto = proto;
  else
    t->proto = proto;
  t->user_data = user_data;
  t->fd = fd;
  t->refs = 1;
  t->flags = COIO__T_READING;
  t->high = DEFAULT_HIGH;
  t->low = DEFAULT_HIGH / 4;
  return t;
}

typedef struct starter {
  coio_transport_t *t;
  coio_future_t *waiter;
} starter_t;

static void start_cb(coio_loop_t *loop, void *arg) {
  starter_t *s = arg;
  coio_transport_t *t = s->t;
  (void)loop;
  t->flags |= COIO__T_STARTED;
  if (!(t->flags & COIO__T_LOST)) {
    if (t->flags & COIO__T_QUIET_START) {
      /* start_tls: the protocol met its connection before */
    } else if (t->datagram ? t->dproto->connection_made != NULL
                           : t->proto->connection_made != NULL) {
      if (t->datagram)
        t->dproto->connection_made(t, t->user_data);
      else
        t->proto->connection_made(t, t->user_data);
    }
    if ((t->flags & COIO__T_READING) && !(t->flags & COIO__T_CLOSING))
      t->drv->read_start(t);
  }
  if (s->waiter) {
    if (!coio_future_done(s->waiter))
      coio_future_set_result(s->waiter, t, NULL);
    coio_future_unref(s->waiter);
  }
  coio__transport_unref(t);
  free(s);
}

static void start_drop(void *arg) {
  starter_t *s = arg;
  coio_future_unref(s->waiter);
  coio__transport_unref(s->t);
  free(s);
}

/* Attaches the driver and schedules connection_made, then reading; waiter
 * (may be NULL) is resolved with the transport after connection_made ran.
 * On failure the transport is freed and the socket left to the caller. */
int coio__transport_start(coio_transport_t *t, coio_future_t *waiter) {
  starter_t *s;
  int rc;
  if (!t->drv) {
    coio__transport_unref(t);
    return COIO_ENOTSUP;
  }
  if ((rc = t->drv->attach(t)) != 0) {
    coio__transport_unref(t);
    return rc;
  }
  if (!(s = malloc(sizeof *s))) {
    t->flags |= COIO__T_DRIVER_CLOSED | COIO__T_LOST;
    t->fd = COIO_INVALID_SOCKET; /* the caller closes the socket */
    t->drv->close(t);
    coio__transport_unref(t);
    return COIO_ENOMEM;
  }
  s->t = t;
  s->waiter = waiter ? coio_future_ref(waiter) : NULL;
  coio__transport_ref(t);
  if ((rc = coio__cb_schedule(t->loop, start_cb, s, start_drop, NULL)) != 0) {
    start_drop(s);
    return rc;
  }
  return 0;
}

/* ---- the public calls ------------------------------------------------------------------ */

static int writable(const coio_transport_t *t) {
  if (!t)
    return COIO_EINVAL;
  if (t->flags & COIO__T_CLOSING)
    return COIO_ECLOSED;
  return 0;
}

static void maybe_pause(coio_transport_t *t) {
  if (!(t->flags & COIO__T_WRITE_PAUSED) && t->wbuf.size > t->high) {
    t->flags |= COIO__T_WRITE_PAUSED;
    if (t->proto && t->proto->pause_writing)
      t->proto->pause_writing(t, t->user_data);
  }
}

static void maybe_resume(coio_transport_t *t) {
  if ((t->flags & COIO__T_WRITE_PAUSED) && t->wbuf.size <= t->low) {
    t->flags &= ~COIO__T_WRITE_PAUSED;
    if (t->proto && t->proto->resume_writing && !(t->flags & COIO__T_LOST))
      t->proto->resume_writing(t, t->user_data);
  }
}

int coio_transport_writelines(coio_transport_t *t, const coio_buf_t *bufs, size_t n) {
  size_t i, was;
  int rc;
  if (t && (t->flags & COIO__T_NO_WRITE))
    return COIO_ENOTSUP; /* a read pipe */
  if ((rc = writable(t)) != 0)
    return rc;
  if (t->datagram || (n && !bufs))
    return COIO_EINVAL;
  if (t->flags & COIO__T_EOF_WANTED)
    return COIO_EPIPE;
  was = t->wbuf.size;
  for (i = 0; i < n; i++)
    if (bufs[i].len && !bufs[i].base)
      return COIO_EINVAL;
  for (i = 0; i < n; i++) {
    const unsigned char *p = bufs[i].base;
    size_t len = bufs[i].len;
    /* Nothing queued: the driver may send at once, without the copy. */
    if (len && t->wbuf.size == 0 && t->drv->try_write) {
      long sent = t->drv->try_write(t, p, len);
      if (sent > 0) {
        p += sent;
        len -= (size_t)sent;
      }
    }
    if (len && (rc = coio__wbuf_append(&t->wbuf, p, len)) != 0)
      break; /* what was queued stays queued and will be sent */
  }
  if (was == 0 && t->wbuf.size > 0)
    t->drv->write_start(t);
  maybe_pause(t);
  return rc;
}

int coio_transport_write(coio_transport_t *t, const void *data, size_t len) {
  coio_buf_t b;
  b.base = data;
  b.len = len;
  return coio_transport_writelines(t, &b, 1);
}

int coio_transport_sendto(coio_transport_t *t, const void *data, size_t len,
                          const coio_sockaddr_t *addr) {
  size_t was;
  int rc = writable(t);
  if (rc)
    return rc;
  if (!t->datagram || (len && !data))
    return COIO_EINVAL;
  was = t->wbuf.nblocks;
  if ((rc = coio__wbuf_append_datagram(&t->wbuf, data, len, addr)) != 0)
    return rc;
  if (was == 0)
    t->drv->write_start(t);
  return 0;
}

int coio_transport_write_eof(coio_transport_t *t) {
  int rc;
  if (t && (((t->flags & COIO__T_PIPE) && !(t->flags & COIO__T_NO_READ)) ||
            (t->flags & COIO__T_TLS)))
    return COIO_ENOTSUP; /* a read pipe, or a duplex one, or TLS: no half-close */
  if ((rc = writable(t)) != 0)
    return rc;
  if (t->datagram)
    return COIO_ENOTSUP;
  if (t->flags & COIO__T_NO_READ) {
    /* A write pipe has no half-close: its EOF is closing it once flushed
     * (asyncio's _UnixWritePipeTransport.write_eof). */
    t->flags |= COIO__T_EOF_WANTED;
    return coio_transport_close(t);
  }
  if (t->flags & COIO__T_EOF_WANTED)
    return 0;
  t->flags |= COIO__T_EOF_WANTED;
  if (t->wbuf.size == 0)
    t->drv->write_start(t); /* the driver sees eof_due */
  return 0;
}

int coio_transport_can_write_eof(const coio_transport_t *t) {
  if (t && (t->flags & COIO__T_TLS))
    return 0;
  if (t && (t->flags & COIO__T_PIPE))
    return (t->flags & COIO__T_NO_READ) != 0;
  return t && !t->datagram;
}

int coio_transport_close(coio_transport_t *t) {
  if (!t)
    return COIO_EINVAL;
  if (t->flags & COIO__T_CLOSING)
    return 0;
  t->flags |= COIO__T_CLOSING;
  t->drv->read_stop(t);
  if (drained(t))
    finish_close(t);
  /* else: lost once the buffer is flushed (coio__transport_sent) */
  return 0;
}

int coio_transport_abort(coio_transport_t *t) {
  if (!t)
    return COIO_EINVAL;
  lose(t, 0);
  return 0;
}

int coio_transport_is_closing(const coio_transport_t *t) {
  return t && (t->flags & COIO__T_CLOSING) != 0;
}

int coio_transport_pause_reading(coio_transport_t *t) {
  if (!t)
    return COIO_EINVAL;
  if (t->flags & COIO__T_NO_READ)
    return COIO_ENOTSUP; /* a write pipe */
  if (t->flags & COIO__T_CLOSING)
    return 0;
  if (t->flags & COIO__T_READING) {
    t->flags &= ~COIO__T_READING;
    t->drv->read_stop(t);
  }
  return 0;
}

int coio_transport_resume_reading(coio_transport_t *t) {
  if (!t)
    return COIO_EINVAL;
  if (t->flags & COIO__T_NO_READ)
    return COIO_ENOTSUP;
  if ((t->flags & COIO__T_CLOSING) || (t->flags & COIO__T_READING))
    return 0;
  t->flags |= COIO__T_READING;
  if ((t->flags & COIO__T_STARTED) && !(t->flags & COIO__T_EOF_RECEIVED))
    t->drv->read_start(t);
  return 0;
}

int coio_transport_is_reading(const coio_transport_t *t) {
  return t && (t->flags & COIO__T_READING) && !(t->flags & COIO__T_CLOSING);
}

int coio_transport_set_write_buffer_limits(coio_transport_t *t, size_t high, size_t low) {
  if (!t)
    return COIO_EINVAL;
  if (t->flags & COIO__T_NO_WRITE)
    return COIO_ENOTSUP;
  if (high == 0 && low == 0)
    high = DEFAULT_HIGH, low = DEFAULT_HIGH / 4;
  else if (low == 0)
    low = high / 4;
  if (low > high)
    return COIO_EINVAL;
  t->high = high;
  t->low = low;
  maybe_pause(t);
  maybe_resume(t);
  return 0;
}

int coio_transport_get_write_buffer_limits(const coio_transport_t *t, size_t *high, size_t *low) {
  if (!t)
    return COIO_EINVAL;
  if (high)
    *high = t->high;
  if (low)
    *low = t->low;
  return 0;
}

size_t coio_transport_get_write_buffer_size(const coio_transport_t *t) {
  return t ? t->wbuf.size : 0;
}

int coio_transport_peername(const coio_transport_t *t, coio_sockaddr_t *addr) {
  if (!t || !addr)
    return COIO_EINVAL;
  if (t->below)
    return (t->flags & COIO__T_DRIVER_CLOSED) ? COIO_ECLOSED
                                              : coio_transport_peername(t->below, addr);
  if (t->flags & COIO__T_PIPE)
    return COIO_ENOTSUP;
  if (t->flags & COIO__T_DRIVER_CLOSED)
    return COIO_ECLOSED;
  return coio__socket_peer(t->fd, addr);
}

int coio_transport_sockname(const coio_transport_t *t, coio_sockaddr_t *addr) {
  if (!t || !addr)
    return COIO_EINVAL;
  if (t->below)
    return (t->flags & COIO__T_DRIVER_CLOSED) ? COIO_ECLOSED
                                              : coio_transport_sockname(t->below, addr);
  if (t->flags & COIO__T_PIPE)
    return COIO_ENOTSUP;
  if (t->flags & COIO__T_DRIVER_CLOSED)
    return COIO_ECLOSED;
  return coio__socket_name(t->fd, addr);
}

coio_socket_t coio_transport_socket(const coio_transport_t *t) {
  if (t && t->below)
    return (t->flags & COIO__T_DRIVER_CLOSED) ? COIO_INVALID_SOCKET
                                              : coio_transport_socket(t->below);
  return t && !(t->flags & (COIO__T_DRIVER_CLOSED | COIO__T_PIPE)) ? t->fd : COIO_INVALID_SOCKET;
}

coio_loop_t *coio_transport_loop(const coio_transport_t *t) { return t ? t->loop : NULL; }

int coio_transport_set_protocol(coio_transport_t *t, const coio_protocol_t *proto,
                                void *user_data) {
  if (!t || !proto || t->datagram)
    return COIO_EINVAL;
  if (!proto->data_received && !(proto->get_buffer && proto->buffer_updated))
    return COIO_EINVAL;
  t->proto = proto;
  t->user_data = user_data;
  return 0;
}

/* ---- what drivers call ----------------------------------------------------------------- */

static int delivering(const coio_transport_t *t) {
  return !(t->flags & (COIO__T_CLOSING | COIO__T_EOF_RECEIVED)) && (t->flags & COIO__T_READING);
}

int coio__transport_read_buffer(coio_transport_t *t, void **buf, size_t *len) {
  if (t->datagram || !t->proto->get_buffer)
    return 0;
  *len = 0;
  *buf = t->proto->get_buffer(t, 65536, len, t->user_data);
  if (!*buf || *len == 0) {
    coio__transport_fatal(t, COIO_EINVAL); /* asyncio: get_buffer returned an empty buffer */
    return -1;
  }
  return 1;
}

void coio__transport_buffer_filled(coio_transport_t *t, size_t n) {
  if (delivering(t) && n > 0)
    t->proto->buffer_updated(t, n, t->user_data);
}

void coio__transport_received(coio_transport_t *t, const void *data, size_t n) {
  if (!delivering(t) || n == 0)
    return;
  if (t->proto->data_received) {
    t->proto->data_received(t, data, n, t->user_data);
    return;
  }
  /* A buffered protocol fed by a driver that read into its own memory. */
  while (n > 0 && delivering(t)) {
    size_t len = 0, k;
    void *buf = t->proto->get_buffer(t, n, &len, t->user_data);
    if (!buf || len == 0) {
      coio__transport_fatal(t, COIO_EINVAL);
      return;
    }
    k = n < len ? n : len;
    memcpy(buf, data, k);
    t->proto->buffer_updated(t, k, t->user_data);
    data = (const unsigned char *)data + k;
    n -= k;
  }
}

void coio__transport_eof(coio_transport_t *t) {
  int keep = 0;
  if (t->flags & (COIO__T_CLOSING | COIO__T_EOF_RECEIVED))
    return;
  t->flags |= COIO__T_EOF_RECEIVED;
  t->drv->read_stop(t);
  if (t->proto->eof_received)
    keep = t->proto->eof_received(t, t->user_data);
  /* A read pipe has nothing left to do after EOF: closed whatever the
   * protocol answered (asyncio's _UnixReadPipeTransport). */
  if (!keep || (t->flags & (COIO__T_EOF_SENT | COIO__T_NO_WRITE | COIO__T_TLS)))
    coio_transport_close(t);
}

void coio__transport_datagram(coio_transport_t *t, const void *data, size_t n,
                              const coio_sockaddr_t *from) {
  if (!(t->flags & COIO__T_CLOSING) && (t->flags & COIO__T_READING))
    t->dproto->datagram_received(t, data, n, from, t->user_data);
}

void coio__transport_datagram_error(coio_transport_t *t, int error) {
  if (!(t->flags & COIO__T_LOST) && t->dproto->error_received)
    t->dproto->error_received(t, error, t->user_data);
}

void coio__transport_fatal(coio_transport_t *t, int error) { lose(t, error); }

size_t coio__transport_pending(coio_transport_t *t, coio_buf_t *iov, size_t max) {
  if (t->flags & COIO__T_LOST)
    return 0; /* aborted: nothing more is sent */
  return coio__wbuf_iov(&t->wbuf, iov, max);
}

static void after_send(coio_transport_t *t) {
  maybe_resume(t);
  if (drained(t) && (t->flags & COIO__T_CLOSING))
    finish_close(t); /* close() was waiting for the flush */
}

void coio__transport_sent(coio_transport_t *t, size_t n) {
  coio__wbuf_consume(&t->wbuf, n);
  after_send(t);
}

void coio__transport_datagram_sent(coio_transport_t *t) {
  coio__wbuf_drop_datagram(&t->wbuf);
  after_send(t);
}

int coio__transport_eof_due(const coio_transport_t *t) {
  return (t->flags & COIO__T_EOF_WANTED) && !(t->flags & (COIO__T_EOF_SENT | COIO__T_LOST)) &&
         t->wbuf.size == 0;
}

void coio__transport_eof_done(coio_transport_t *t) {
  t->flags |= COIO__T_EOF_SENT;
  if (t->flags & COIO__T_EOF_RECEIVED) /* both sides closed */
    coio_transport_close(t);
}

/* ---- servers' clients ------------------------------------------------------------------- */

void coio__server_client_added(coio_transport_t *t) {
  struct coio_server *s = t->server;
  t->srv_next = s->clients;
  if (s->clients)
    s->clients->srv_prev = t;
  s->clients = t;
  s->nclients++;
}


static void server_client_gone(coio_transport_t *t) {
  struct coio_server *s = t->server;
  if (!s)
    return;
  if (t->srv_prev)
    t->srv_prev->srv_next = t->srv_next;
  else
    s->clients = t->srv_next;
  if (t->srv_next)
    t->srv_next->srv_prev = t->srv_prev;
  t->server = NULL;
  s->nclients--;
  coio__server_maybe_closed(s);
}
