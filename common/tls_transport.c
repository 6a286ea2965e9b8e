/* common/tls_transport.c - TLS transports (asyncio's sslproto), written
 * once over the transport core, so they behave the same on epoll, io_uring
 * and IOCP.
 *
 * Design: a TLS connection (conn_t) joins two ordinary core transports.
 *   low  the plain transport that moves records (made by us, or the user's
 *        transport taken over by start_tls): its protocol is ours
 *        (low_proto) and feeds what arrives to the engine (tls_engine.c).
 *   up   the TLS transport the user sees: a core transport whose driver is
 *        tls_driver below (t->drv is per transport). Its write buffer,
 *        water marks, pause_reading and close/abort state machine are the
 *        core's, so protocols and streams cannot tell it from a plain one.
 * Why a driver and not a wrapping protocol object: everything the core
 * does for plain transports (buffering, flow control, EOF, close, abort,
 * servers' client lists) then comes for free and cannot drift apart; the
 * driver only moves bytes, as selector/ and proactor/ do.
 *   - write_start: encrypt the core's pending bytes (at most a record per
 *     SSL_write_ex, partial writes on) into low, consuming them from up's
 *     buffer; stop while low's buffer is above its high-water mark and go
 *     on from low's resume_writing, so up's buffer fills and its protocol
 *     is paused: the water marks apply to the application's bytes.
 *   - read_start/read_stop: deliver plaintext only while up reads, pausing
 *     low meanwhile (records already fed wait in the engine).
 *   - shutdown (the core's optional closing hook, t->shutdown): close_notify, then wait
 *     for the peer's (or its EOF) within the shutdown timeout; connection_lost
 *     follows. close: after connection_lost, low is closed (flushed) or, for
 *     an abort, aborted.
 * The handshake runs before up exists: a client's create_connection /
 * start_tls resolves once it is done (errors fail the future with OpenSSL's
 * reason); a server asks its factory for a protocol only then, so a failed
 * handshake never reaches the user. A server's client list holds low (it
 * exists from the accept on); close_clients acts on up through low->above.
 * Lifetime: conn is reference counted: low's protocol (until low's
 * connection_lost), up's driver (until drv->close) and the task or callback
 * waiting for the handshake each hold one; conn holds a reference on low
 * and up, so both stay valid (as memory) while it lives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "coio/error.h"
#include "coio/tls.h"
#include "loop_internal.h"
#include "sys.h"
#include "task_internal.h"
#include "tls_internal.h"

#define DEFAULT_HANDSHAKE_TIMEOUT 60.0
#define DEFAULT_SHUTDOWN_TIMEOUT 30.0
#define READ_CHUNK 16384u

enum { PH_HANDSHAKE, PH_OPEN, PH_SHUTDOWN, PH_DONE, PH_FAILED };

typedef struct conn {
  long refs;
  coio_loop_t *loop;
  coio__tls_engine_t eng;
  coio_transport_t *low, *up;
  int phase;
  int server;
  int want_read;    /* up reads (between read_start and read_stop) */
  int low_reading;  /* low is not paused by us */
  int low_eof;      /* low saw EOF: no more records */
  int low_gone;     /* low's connection_lost ran */
  int up_closed;    /* up's drv->close ran */
  int up_reported;  /* ... and up's connection_lost was asked for */
  int shut_clean;   /* the closing handshake ended well: close low, not abort */
  int in_pump, pump_again, in_encrypt, encrypt_again;
  coio_handle_t kick, timer;
  double hs_timeout, shut_timeout;
  coio_future_t *hs;   /* resolved when the handshake ends */
  coio_future_t *gone; /* resolved when low's connection_lost ran */
  struct coio_server *server_of; /* server side: who accepted it */
} conn_t;

static const coio__driver_t tls_driver;
static COIO__THREAD_LOCAL unsigned char read_buf[READ_CHUNK];

static void conn_unref(conn_t *c) {
  if (--c->refs > 0)
    return;
  coio_handle_cancel(c->loop, c->kick);
  coio_handle_cancel(c->loop, c->timer);
  coio__tls_engine_fini(&c->eng);
  coio_future_unref(c->hs);
  coio_future_unref(c->gone);
  if (c->low) {
    if (c->low->above == c->up)
      c->low->above = NULL;
    coio__transport_unref(c->low);
  }
  if (c->up)
    coio__transport_unref(c->up);
  free(c);
}

static double timeout_or(double v, double dflt) { return v > 0 ? v : dflt; }

/* ---- moving records --------------------------------------------------------------- */

/* Sends what the engine produced (handshake messages, records, alerts). */
static void flush_out(conn_t *c) {
  const void *p;
  size_t n = coio__tls_engine_out(&c->eng, &p);
  if (n == 0)
    return;
  if (!c->low_gone && !(c->low->flags & COIO__T_CLOSING))
    coio_transport_write(c->low, p, n);
  coio__tls_engine_out_clear(&c->eng);
}

/* low reads while the handshake or the closing handshake needs records,
 * or while up wants data. */
static void update_low_reading(conn_t *c) {
  int want;
  if (c->low_gone)
    return;
  want = c->phase == PH_HANDSHAKE || c->phase == PH_SHUTDOWN ||
         (c->phase == PH_OPEN && c->want_read);
  if (want && !c->low_reading) {
    c->low_reading = 1;
    coio_transport_resume_reading(c->low);
  } else if (!want && c->low_reading) {
    c->low_reading = 0;
    coio_transport_pause_reading(c->low);
  }
}

static void cancel_timer(conn_t *c) {
  coio_handle_cancel(c->loop, c->timer);
  c->timer.id = 0;
}

static void abort_low_cb(coio_loop_t *loop, void *arg) {
  conn_t *c = arg;
  (void)loop;
  c->timer.id = 0;
  if (!c->low_gone)
    coio_transport_abort(c->low);
}

/* Closes low once what was written (a close_notify, an alert) is sent;
 * aborted if that takes longer than the shutdown timeout (a peer that does
 * not read must not keep it, or up's connection_lost, forever). */
static void close_low(conn_t *c) {
  if (c->low_gone)
    return;
  flush_out(c);
  coio_transport_close(c->low);
  if (!c->low_gone) {
    cancel_timer(c);
    coio_call_later(c->loop, c->shut_timeout, abort_low_cb, c, &c->timer);
  }
}

/* ---- the handshake ---------------------------------------------------------------- */

static void hs_end(conn_t *c, int code, const char *msg) {
  if (c->phase != PH_HANDSHAKE)
    return;
  cancel_timer(c);
  if (code == 0) {
    c->phase = PH_OPEN;
    if (c->hs && !coio_future_done(c->hs))
      coio_future_set_result(c->hs, NULL, NULL);
  } else {
    c->phase = PH_FAILED;
    flush_out(c); /* the alert, if OpenSSL made one */
    if (c->hs && !coio_future_done(c->hs))
      coio_future_set_error(c->hs, code, msg);
    if (!c->low_gone) {
      if (code == COIO_ETIMEDOUT || code == COIO_ECANCELED)
        coio_transport_abort(c->low);
      else
        close_low(c); /* the alert goes out first */
    }
  }
  update_low_reading(c);
}

static void hs_timeout_cb(coio_loop_t *loop, void *arg) {
  conn_t *c = arg;
  (void)loop;
  c->timer.id = 0;
  hs_end(c, COIO_ETIMEDOUT, "TLS handshake timed out");
}

static void shut_timeout_cb(coio_loop_t *loop, void *arg) {
  conn_t *c = arg;
  (void)loop;
  c->timer.id = 0;
  if (c->phase == PH_SHUTDOWN) {
    c->phase = PH_DONE;
    coio__transport_shutdown_done(c->up, COIO_ETIMEDOUT);
  }
}

/* ---- incoming records ------------------------------------------------------------- */

static int up_delivering(const conn_t *c) {
  const coio_transport_t *up = c->up;
  return up && c->want_read && (up->flags & COIO__T_STARTED) &&
         !(up->flags & (COIO__T_CLOSING | COIO__T_EOF_RECEIVED));
}

static void shutdown_end(conn_t *c, int error) {
  if (c->phase != PH_SHUTDOWN)
    return;
  c->phase = PH_DONE;
  c->shut_clean = error == 0;
  cancel_timer(c);
  update_low_reading(c);
  coio__transport_shutdown_done(c->up, error);
}

/* Advances whatever the records fed so far allow. */
static void pump(conn_t *c) {
  int rc;
  size_t got;
  if (c->in_pump) {
    c->pump_again = 1;
    return;
  }
  c->in_pump = 1;
  c->refs++;
  do {
    c->pump_again = 0;
    switch (c->phase) {
    case PH_HANDSHAKE:
      rc = coio__tls_engine_handshake(&c->eng);
      flush_out(c);
      if (rc < 0)
        hs_end(c, rc, c->eng.msg);
      else if (rc == 1)
        hs_end(c, 0, NULL);
      else if (c->low_eof)
        hs_end(c, COIO_ECONNRESET, "the peer closed the connection during the TLS handshake");
      break;
    case PH_OPEN:
      while (up_delivering(c)) {
        rc = coio__tls_engine_read(&c->eng, read_buf, sizeof read_buf, &got);
        flush_out(c); /* a KeyUpdate answer, say */
        if (rc == 0 && got > 0) {
          coio__transport_received(c->up, read_buf, got);
          continue;
        }
        if (rc == 1) { /* close_notify: EOF, which closes a TLS transport */
          coio__transport_eof(c->up);
        } else if (rc < 0) {
          coio__transport_fatal(c->up, rc);
        } else if (c->low_eof) {
          coio__transport_fatal(c->up, COIO_ETLSTRUNCATED);
        }
        break;
      }
      break;
    case PH_SHUTDOWN:
      /* application data after our close_notify is dropped (asyncio) */
      for (;;) {
        rc = coio__tls_engine_read(&c->eng, read_buf, sizeof read_buf, &got);
        if (rc == 0 && got > 0)
          continue;
        break;
      }
      flush_out(c);
      if (rc == 1 || coio__tls_engine_shutdown(&c->eng) == 1)
        shutdown_end(c, 0);
      else if (rc < 0 || c->low_eof)
        shutdown_end(c, 0); /* the peer is gone: nothing more to wait for */
      break;
    default:
      break;
    }
  } while (c->pump_again);
  c->in_pump = 0;
  conn_unref(c);
}

static void kick_cb(coio_loop_t *loop, void *arg) {
  conn_t *c = arg;
  (void)loop;
  c->kick.id = 0;
  pump(c);
}

static void kick(conn_t *c) {
  if (c->kick.id == 0)
    coio_call_soon(c->loop, kick_cb, c, &c->kick);
}

/* ---- low's protocol --------------------------------------------------------------- */

static void low_made(coio_transport_t *t, void *ud) {
  conn_t *c = ud;
  (void)t;
  pump(c); /* a client's ClientHello */
}

static void low_data(coio_transport_t *t, const void *data, size_t n, void *ud) {
  conn_t *c = ud;
  if (coio__tls_engine_feed(&c->eng, data, n) != 0) {
    coio_transport_abort(t);
    return;
  }
  pump(c);
}

static int low_eof(coio_transport_t *t, void *ud) {
  conn_t *c = ud;
  (void)t;
  c->low_eof = 1;
  coio__tls_engine_feed_eof(&c->eng);
  pump(c);
  return 1; /* kept: up decides when low closes */
}

static void encrypt(conn_t *c);

static void release_cb(coio_loop_t *loop, void *arg) {
  (void)loop;
  conn_unref(arg);
}

static void release_drop(void *arg) { conn_unref(arg); }

/* up was closed and low is gone: up's connection_lost now (the core's
 * order for layers). The driver's hold on conn ends right after it (the
 * ready ring is FIFO), so get_extra_info works in connection_lost; returns
 * 1 when it could not be scheduled: the caller drops that reference. */
static int up_done(conn_t *c) {
  if (!c->up || !c->up_closed || !c->low_gone || c->up_reported)
    return 0;
  c->up_reported = 1;
  coio__transport_layer_closed(c->up);
  return coio__cb_schedule(c->loop, release_cb, c, release_drop, NULL) != 0;
}

static void low_resume(coio_transport_t *t, void *ud) {
  (void)t;
  encrypt(ud);
}

static void low_lost(coio_transport_t *t, int error, void *ud) {
  conn_t *c = ud;
  (void)t;
  c->low_gone = 1;
  if (c->gone && !coio_future_done(c->gone))
    coio_future_set_result(c->gone, NULL, NULL);
  if (c->phase == PH_HANDSHAKE)
    hs_end(c, error ? error : COIO_ECONNRESET,
           "the connection was lost during the TLS handshake");
  else if (c->phase == PH_SHUTDOWN)
    shutdown_end(c, error);
  else if (c->up && !(c->up->flags & COIO__T_LOST))
    coio__transport_fatal(c->up, error ? error : COIO_ETLSTRUNCATED);
  if (up_done(c))
    c->refs--; /* up's driver's (low's is still held) */
  conn_unref(c); /* low's */
}

static const coio_protocol_t low_proto = {low_made, low_data,   low_eof, low_lost,
                                          NULL,     low_resume, NULL,    NULL};

/* ---- outgoing: up's buffer into records into low ---------------------------------------- */

static void encrypt(conn_t *c) {
  coio_transport_t *up = c->up;
  coio_buf_t iov[1];
  size_t done;
  int rc;
  if (c->in_encrypt) {
    c->encrypt_again = 1;
    return;
  }
  if (!up)
    return;
  c->in_encrypt = 1;
  c->refs++;
  do {
    c->encrypt_again = 0;
    while (c->phase == PH_OPEN && !c->low_gone &&
           !(c->low->flags & (COIO__T_WRITE_PAUSED | COIO__T_CLOSING)) &&
           !(up->flags & COIO__T_LOST) && coio__transport_pending(up, iov, 1) == 1) {
      rc = coio__tls_engine_write(&c->eng, iov[0].base, iov[0].len, &done);
      flush_out(c);
      if (rc < 0) {
        coio__transport_fatal(up, rc);
        break;
      }
      if (done == 0)
        break;
      coio__transport_sent(up, done); /* may resume the protocol, or close */
    }
  } while (c->encrypt_again);
  c->in_encrypt = 0;
  conn_unref(c);
}

/* ---- up's driver ----------------------------------------------------------------------- */

static int tls_attach(coio_transport_t *t) {
  (void)t;
  return 0; /* conn was attached when up was made */
}

static void tls_read_start(coio_transport_t *t) {
  conn_t *c = t->drv_data;
  c->want_read = 1;
  update_low_reading(c);
  kick(c); /* records may be waiting: delivered from the loop, not from here */
}

static void tls_read_stop(coio_transport_t *t) {
  conn_t *c = t->drv_data;
  c->want_read = 0;
  update_low_reading(c);
}

static void tls_write_start(coio_transport_t *t) { encrypt(t->drv_data); }

static void tls_shutdown(coio_transport_t *t) {
  conn_t *c = t->drv_data;
  int rc;
  if (c->phase != PH_OPEN) {
    coio__transport_shutdown_done(t, 0);
    return;
  }
  c->phase = PH_SHUTDOWN;
  rc = coio__tls_engine_shutdown(&c->eng);
  flush_out(c);
  if (rc == 1 || rc < 0 || c->low_eof || c->low_gone) {
    shutdown_end(c, 0);
    return;
  }
  coio_call_later(c->loop, c->shut_timeout, shut_timeout_cb, c, &c->timer);
  update_low_reading(c);
  kick(c); /* the peer's close_notify may be waiting */
}

static void tls_close(coio_transport_t *t) {
  conn_t *c = t->drv_data;
  c->up_closed = 1;
  c->want_read = 0;
  cancel_timer(c);
  if (c->low_gone) {
    if (up_done(c))
      conn_unref(c); /* up's driver's */
  } else if (c->shut_clean || (t->lost_error != 0 && t->lost_error != COIO_ETIMEDOUT)) {
    close_low(c); /* the close_notify, or an alert after an error, goes out first */
  } else {
    coio_transport_abort(c->low); /* abort (or a shutdown timeout): drop everything */
  }
  /* up_done follows from low's connection_lost */
}

static const coio__driver_t tls_driver = {
    tls_attach, tls_read_start, tls_read_stop, tls_write_start, tls_close, NULL, NULL, NULL, NULL,
    NULL, /* try_write: records are made from the write buffer */
};

/* ---- making connections ---------------------------------------------------------------- */

static int conn_new(coio_loop_t *loop, coio_tls_context_t *ctx, int server, const char *hostname,
                    const char *session_key, double hs_timeout, double shut_timeout,
                    conn_t **out) {
  conn_t *c = calloc(1, sizeof *c);
  int rc;
  if (!c)
    return COIO_ENOMEM;
  if ((rc = coio__tls_engine_init(&c->eng, ctx, server, hostname, session_key)) != 0) {
    free(c);
    return rc;
  }
  if ((rc = coio_future_new(loop, &c->hs)) != 0) {
    coio__tls_engine_fini(&c->eng);
    free(c);
    return rc;
  }
  c->refs = 1; /* the caller's */
  c->loop = loop;
  c->server = server;
  c->phase = PH_HANDSHAKE;
  c->hs_timeout = timeout_or(hs_timeout, DEFAULT_HANDSHAKE_TIMEOUT);
  c->shut_timeout = timeout_or(shut_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
  *out = c;
  return 0;
}

/* low is the plain transport under c (started, or about to be): ours. */
static void conn_set_low(conn_t *c, coio_transport_t *low) {
  c->low = low;
  coio__transport_ref(low); /* conn's */
  c->refs++;                /* low's protocol's */
  c->low_reading = 1;
}

static int start_timer(conn_t *c) {
  return coio_call_later(c->loop, c->hs_timeout, hs_timeout_cb, c, &c->timer);
}

/* Makes up over c->low with proto/user_data and starts it (waiter resolved
 * after connection_made, or at once for start_tls's quiet start). */
static int make_up(conn_t *c, const coio_protocol_t *proto, void *user_data, unsigned flags,
                   coio_future_t *waiter) {
  coio_transport_t *up;
  int rc;
  if (c->low_gone || (c->low->flags & COIO__T_CLOSING))
    return COIO_ECONNRESET;
  if (!(up = coio__transport_new(c->loop, c->low->fd, 0, proto, user_data)))
    return COIO_ENOMEM;
  up->drv = &tls_driver;
  up->drv_data = c;
  up->shutdown = tls_shutdown;
  up->flags |= COIO__T_TLS | flags | (c->low->flags & COIO__T_PIPE);
  up->below = c->low;
  c->low->above = up;
  c->up = up;
  coio__transport_ref(up); /* conn's */
  c->refs++;               /* up's driver's */
  coio__transport_ref(up); /* across start */
  if ((rc = coio__transport_start(up, waiter)) != 0) {
    /* out of memory: undo (start dropped the core's reference) */
    c->low->above = NULL;
    c->up = NULL;
    c->refs--;
    coio__transport_unref(up);
    coio__transport_unref(up);
    return rc;
  }
  coio__transport_unref(up);
  return 0;
}

/* The name and port a client's session is cached under. */
static void session_key(char *key, size_t size, const char *name, coio_transport_t *low) {
  coio_sockaddr_t peer;
  char host[64] = "";
  int port = 0;
  if (coio_transport_peername(low, &peer) == 0) {
    port = coio_sockaddr_port(&peer);
    if (!name)
      coio_sockaddr_to_string(&peer, host, sizeof host);
  }
  snprintf(key, size, "%s|%d", name ? name : host, port);
}

/* A client's session cache key: set before the ClientHello, with the
 * session cached under it, if any, to resume. */
static int set_session(conn_t *c, const char *name, coio_transport_t *low) {
  SSL_SESSION *sess;
  char key[320];
  session_key(key, sizeof key, name, low);
  if (!(c->eng.session_key = malloc(strlen(key) + 1)))
    return COIO_ENOMEM;
  strcpy(c->eng.session_key, key);
  if ((sess = coio__tls_session_get(c->eng.ctx, key)) != NULL) {
    SSL_set_session(c->eng.ssl, sess);
    SSL_SESSION_free(sess);
  }
  return 0;
}

/* (task) Waits for c's handshake; on success makes up. */
static int await_handshake(conn_t *c, const coio_protocol_t *proto, void *user_data,
                           unsigned flags, void **result) {
  coio_future_t *waiter;
  int rc = coio_await(c->hs);
  if (rc == COIO_ECANCELED && !coio_future_done(c->hs))
    coio_future_cancel(c->hs, NULL);
  if (rc == COIO_ECANCELED) {
    hs_end(c, COIO_ECANCELED, NULL);
    return rc;
  }
  if (rc != 0) {
    char msg[256];
    const char *m = coio_future_message(c->hs);
    snprintf(msg, sizeof msg, "%s", m ? m : "");
    /* The failure closes the connection (sending OpenSSL's alert first):
     * resolve once it is gone, so nothing of it outlives the call. */
    if (!c->low_gone && coio_future_new(c->loop, &c->gone) == 0 &&
        coio_await(c->gone) == COIO_ECANCELED && !c->low_gone)
      coio_transport_abort(c->low);
    return coio_task_error(rc, m ? msg : NULL);
  }
  if ((rc = coio_future_new(c->loop, &waiter)) != 0)
    return rc;
  if ((rc = make_up(c, proto, user_data, flags, waiter)) != 0) {
    coio_future_unref(waiter);
    if (!c->low_gone)
      coio_transport_abort(c->low);
    return rc;
  }
  return coio__await_started(waiter, result);
}

int coio__tls_client(coio_loop_t *loop, coio_socket_t fd, const coio_connect_options_t *opts,
                     const char *host, const coio_protocol_t *proto, void *user_data,
                     int *fd_taken, void **result) {
  const char *name = opts->server_hostname ? opts->server_hostname : host;
  coio_transport_t *low;
  conn_t *c;
  int rc;
  *fd_taken = 0;
  if ((rc = coio__tls_check_context(opts->tls, COIO_TLS_CLIENT)) != 0)
    return rc;
  if ((rc = conn_new(loop, opts->tls, 0, name, NULL, opts->tls_handshake_timeout,
                     opts->tls_shutdown_timeout, &c)) != 0)
    return rc;
  if (!(low = coio__transport_new(loop, fd, 0, &low_proto, c))) {
    conn_unref(c);
    return COIO_ENOMEM;
  }
  if ((rc = set_session(c, name, low)) != 0) {
    coio__transport_unref(low);
    conn_unref(c);
    return rc;
  }
  conn_set_low(c, low);
  if ((rc = coio__transport_start(low, NULL)) != 0) {
    /* start dropped the core's reference; the socket is still the caller's */
    c->low = NULL;
    c->refs--;
    coio__transport_unref(low);
    conn_unref(c);
    return rc;
  }
  *fd_taken = 1;
  if ((rc = start_timer(c)) != 0) {
    coio_transport_abort(low);
    conn_unref(c);
    return rc;
  }
  rc = await_handshake(c, proto, user_data, 0, result);
  conn_unref(c);
  return rc;
}

/* ---- servers ---------------------------------------------------------------------------- */

static void server_hs_done(coio_future_t *f, void *arg) {
  conn_t *c = arg;
  struct coio_server *s = c->server_of;
  const coio_protocol_t *proto = NULL;
  void *ud = NULL;
  if (coio_future_result(f, NULL) == 0 && !c->low_gone && !(c->low->flags & COIO__T_CLOSING)) {
    if (s->closed || s->factory(s->factory_data, &proto, &ud) != 0 ||
        coio__check_stream_protocol(proto) != 0 || make_up(c, proto, ud, 0, NULL) != 0)
      coio_transport_abort(c->low); /* refused */
  }
  conn_unref(c);
}

void coio__tls_accepted(struct coio_server *s, coio_socket_t fd) {
  coio_transport_t *low;
  conn_t *c;
  if (conn_new(s->loop, s->tls, 1, NULL, NULL, s->tls_handshake_timeout,
               s->tls_shutdown_timeout, &c) != 0) {
    coio_socket_close(fd);
    return;
  }
  c->server_of = s;
  if (!(low = coio__transport_new(s->loop, fd, 0, &low_proto, c))) {
    coio_socket_close(fd);
    conn_unref(c);
    return;
  }
  conn_set_low(c, low);
  if (coio__transport_start(low, NULL) != 0) {
    coio_socket_close(fd);
    c->low = NULL;
    c->refs--;
    coio__transport_unref(low);
    conn_unref(c);
    return;
  }
  low->server = s; /* nothing ran yet: connection_made is scheduled */
  coio__server_client_added(low);
  if (start_timer(c) != 0 || coio_future_add_done_callback(c->hs, server_hs_done, c) != 0) {
    coio_transport_abort(low);
    conn_unref(c);
  }
}

/* ---- start_tls ----------------------------------------------------------------------------- */

typedef struct upgrade {
  conn_t *c;
  const coio_protocol_t *proto;
  void *ud;
} upgrade_t;

static int upgrade_task(void *arg, void **result) {
  upgrade_t *u = arg;
  return await_handshake(u->c, u->proto, u->ud, COIO__T_QUIET_START, result);
}

static void upgrade_free(void *arg) {
  upgrade_t *u = arg;
  conn_unref(u->c);
  free(u);
}

int coio_start_tls(coio_transport_t *t, const coio_protocol_t *proto, void *user_data,
                   coio_tls_context_t *ctx, const coio_tls_options_t *opts, coio_future_t **out) {
  coio_tls_options_t o;
  upgrade_t *u;
  conn_t *c;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!t || t->datagram || coio__check_stream_protocol(proto) != 0 || !ctx)
    return COIO_EINVAL;
  if (opts)
    o = *opts;
  else
    memset(&o, 0, sizeof o);
  if ((rc = coio__tls_check_context(ctx, o.server_side ? COIO_TLS_SERVER : COIO_TLS_CLIENT)) != 0)
    return rc;
  if (t->flags & (COIO__T_CLOSING | COIO__T_NO_READ | COIO__T_NO_WRITE) ||
      !(t->flags & COIO__T_STARTED) || t->above)
    return (t->flags & COIO__T_CLOSING) ? COIO_ECLOSED : COIO_EINVAL;
  if ((rc = conn_new(t->loop, ctx, o.server_side, o.server_hostname, NULL, o.handshake_timeout,
                     o.shutdown_timeout, &c)) != 0)
    return rc;
  if (!o.server_side && (rc = set_session(c, o.server_hostname, t)) != 0) {
    conn_unref(c);
    return rc;
  }
  if (!(u = malloc(sizeof *u))) {
    conn_unref(c);
    return COIO_ENOMEM;
  }
  u->c = c;
  u->proto = proto;
  u->ud = user_data;
  c->refs++; /* the task's (u) */
  if ((rc = coio__spawn_req(t->loop, upgrade_task, u, upgrade_free, out)) != 0) {
    conn_unref(c);
    return rc;
  }
  /* Take t over: from now on what arrives on it is fed to TLS. */
  t->proto = &low_proto;
  t->user_data = c;
  conn_set_low(c, t);
  c->low_reading = (t->flags & COIO__T_READING) != 0; /* the handshake reads */
  update_low_reading(c);
  if (start_timer(c) != 0)
    hs_end(c, COIO_ENOMEM, "out of memory");
  else
    pump(c); /* a client's ClientHello */
  conn_unref(c); /* ours */
  return 0;
}

/* ---- get_extra_info -------------------------------------------------------------------------- */

static SSL *ssl_of(const coio_transport_t *t) {
  const conn_t *c;
  if (!t || t->drv != &tls_driver)
    return NULL;
  c = t->drv_data;
  return c ? c->eng.ssl : NULL;
}

int coio_transport_is_tls(const coio_transport_t *t) { return ssl_of(t) != NULL; }

const char *coio_transport_tls_version(const coio_transport_t *t) {
  SSL *s = ssl_of(t);
  return s ? SSL_get_version(s) : NULL;
}

const char *coio_transport_tls_cipher(const coio_transport_t *t) {
  SSL *s = ssl_of(t);
  return s ? SSL_get_cipher_name(s) : NULL;
}

const char *coio_transport_tls_alpn(const coio_transport_t *t) {
  static COIO__THREAD_LOCAL char name[256];
  const unsigned char *p = NULL;
  unsigned int n = 0;
  SSL *s = ssl_of(t);
  if (!s)
    return NULL;
  SSL_get0_alpn_selected(s, &p, &n);
  if (!p || n == 0)
    return NULL;
  memcpy(name, p, n);
  name[n] = 0;
  return name;
}

const char *coio_transport_tls_server_name(const coio_transport_t *t) {
  SSL *s = ssl_of(t);
  return s ? SSL_get_servername(s, TLSEXT_NAMETYPE_host_name) : NULL;
}

int coio_transport_tls_session_reused(const coio_transport_t *t) {
  SSL *s = ssl_of(t);
  return s ? SSL_session_reused(s) == 1 : 0;
}

int coio_transport_tls_peer_certificate(const coio_transport_t *t, void **der, size_t *len) {
  SSL *s = ssl_of(t);
  X509 *x;
  unsigned char *p = NULL, *q;
  int n;
  if (!der || !len)
    return COIO_EINVAL;
  *der = NULL;
  *len = 0;
  if (!s)
    return COIO_EINVAL;
  if (!(x = SSL_get1_peer_certificate(s)))
    return COIO_ENOENT;
  n = i2d_X509(x, NULL);
  if (n <= 0 || !(p = malloc((size_t)n))) {
    X509_free(x);
    return COIO_ENOMEM;
  }
  q = p;
  i2d_X509(x, &q);
  X509_free(x);
  *der = p;
  *len = (size_t)n;
  return 0;
}

void *coio_transport_tls_native(const coio_transport_t *t) { return ssl_of(t); }
