/* proactor/transport.c - the completion driver of the transport core
 * (common/transport_internal.h), written once against the completion seam
 * (proactor/proactor.h), so the same code runs on io_uring and on IOCP
 * (asyncio's _ProactorSocketTransport / _ProactorDatagramTransport and the
 * accept loop of ProactorEventLoop._start_serving).
 *
 * Per transport: one receive op and one send op, embedded in the driver's
 * state, so a warm connection allocates nothing per read or write.
 * - Reading: at most one receive in flight, into the buffered protocol's
 *   buffer (coio__transport_read_buffer) or into the transport's own 64 KiB
 *   buffer, allocated on first use and kept. A receive that completes while
 *   reading is paused is kept (its bytes stay in that buffer, the receive is
 *   not restarted) and delivered when reading resumes, as asyncio's proactor
 *   does: pausing never cancels a receive, because a cancel that loses the
 *   race with the data would drop it. Resuming is deferred to a loop
 *   callback (the "kick"): get_buffer and data_received must not run inside
 *   the user's resume_reading call.
 * - Writing: at most one send in flight per transport, vectored over the
 *   write buffer's blocks (coio__transport_pending), whose memory the core
 *   keeps still while we hold a reference. A short send is reported as is
 *   (coio__transport_sent) and the rest sent by the next op. A datagram
 *   transport sends its head block, one datagram per op.
 * - Every op in flight holds a transport reference (the memory rule), taken
 *   at start and dropped when its completion arrives, even after a cancel.
 * - Closing (drv->close, after connection_lost): ops in flight are
 *   cancelled, and the socket is closed only once every op has completed:
 *   closing first would not stop io_uring's requests (PITFALLS 3), and on
 *   IOCP the OVERLAPPEDs must outlive their packets anyway (PITFALLS 1).
 * - A listener keeps NACCEPT accepts in flight; transient errors are
 *   retried, EMFILE-like ones after a back-off.
 * - When the loop itself closes with ops in flight, the backend completes
 *   them with the loop already closed (proactor.h): the handlers then only
 *   release what they hold. */
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "coio/future.h"
#include "proactor/proactor.h"

#define READ_SIZE 65536u
#define NACCEPT 4
#define ACCEPT_BACKOFF 0.1 /* seconds, after EMFILE / ENOBUFS */

typedef const struct coio__proactor_ops pops_t;

static pops_t *loop_ops(coio_loop_t *loop) { return coio__loop_backend_table(loop)->proactor; }

/* ---- streams and datagram endpoints ------------------------------------------ */

enum { HELD_NONE, HELD_DATA, HELD_EOF };

typedef struct pstream {
  coio_transport_t *t;
  pops_t *ops;
  void *bstate;
  coio__op_t rop, wop;  /* receive (RECV / RECVFROM) and send (SEND / SENDTO) */
  int rop_busy, wop_busy;
  int rop_own;          /* rop reads into rbuf (else into the protocol's buffer) */
  const coio_protocol_t *rop_proto; /* the protocol (and user_data) whose buffer rop */
  void *rop_ud;                     /* reads into: set_protocol may replace it meanwhile */
  int nops;             /* ops in flight */
  unsigned char *rbuf;  /* own read buffer, READ_SIZE bytes, made on first use */
  int want_read;        /* between read_start and read_stop */
  int held;             /* HELD_*: a receive that completed while paused */
  size_t held_n;
  int held_own;
  int kick_pending;
  coio_handle_t kick;
  int closed;           /* drv->close was called */
  coio_socket_t fd;     /* closed once closed and no op is in flight */
} pstream_t;

static void recv_done(coio__op_t *op, long res);
static void send_done(coio__op_t *op, long res);

/* A pipe end (COIO__T_PIPE) is no socket: closed as a pipe. */
static void close_fd(const coio_transport_t *t, coio_socket_t fd) {
  if (t->flags & COIO__T_PIPE)
    coio_pipe_close(COIO__PIPE_OF(fd));
  else
    coio_socket_close(fd);
}

static void stream_free(pstream_t *pt) {
  if (pt->fd != COIO_INVALID_SOCKET)
    close_fd(pt->t, pt->fd);
  if (pt->t->drv_data == pt)
    pt->t->drv_data = NULL;
  free(pt->rbuf);
  free(pt);
}

/* An op of pt ended: release what it held. The transport reference goes
 * last, as it may free the transport. */
static void op_end(pstream_t *pt) {
  coio_transport_t *t = pt->t;
  pt->nops--;
  if (pt->closed && pt->nops == 0)
    stream_free(pt);
  coio__transport_unref(t);
}

static int op_begin(pstream_t *pt, coio__op_t *op) {
  int rc = pt->ops->start(pt->bstate, op);
  if (rc != 0)
    return rc;
  pt->nops++;
  coio__transport_ref(pt->t);
  return 0;
}

static int drv_attach(coio_transport_t *t) {
  pops_t *ops = loop_ops(t->loop);
  pstream_t *pt;
  int rc;
  if (!ops)
    return COIO_ENOTSUP;
  if (!(pt = calloc(1, sizeof *pt)))
    return COIO_ENOMEM;
  pt->t = t;
  pt->ops = ops;
  pt->bstate = coio__loop_backend_state(t->loop);
  pt->fd = COIO_INVALID_SOCKET;
  if (!(t->flags & COIO__T_ASSOCIATED) && (rc = ops->associate(pt->bstate, t->fd)) != 0) {
    free(pt);
    return rc;
  }
  pt->rop.owner = pt->wop.owner = pt;
  pt->rop.done = recv_done;
  pt->wop.done = send_done;
  pt->rop.accepted = pt->wop.accepted = COIO_INVALID_SOCKET;
  t->drv_data = pt;
  return 0;
}

/* ---- reading ---------------------------------------------------------------------- */

/* Starts the next receive if one is wanted and none is in flight. */
static void recv_next(pstream_t *pt) {
  coio_transport_t *t = pt->t;
  void *buf = NULL;
  size_t len = 0;
  int r = 0, rc;
  if (pt->rop_busy || pt->closed || !pt->want_read || pt->held != HELD_NONE)
    return;
  if (!t->datagram && (r = coio__transport_read_buffer(t, &buf, &len)) < 0)
    return; /* get_buffer gave nothing: the core aborted the transport */
  if (r == 0) {
    if (!pt->rbuf && !(pt->rbuf = malloc(READ_SIZE))) {
      coio__transport_fatal(t, COIO_ENOMEM);
      return;
    }
    buf = pt->rbuf;
    len = READ_SIZE;
  }
  pt->rop.kind = t->datagram                  ? COIO__OP_RECVFROM
                 : (t->flags & COIO__T_PIPE) ? COIO__OP_READ
                                             : COIO__OP_RECV;
  pt->rop.fd = t->fd;
  pt->rop.iov[0].base = buf;
  pt->rop.iov[0].len = len;
  pt->rop.niov = 1;
  pt->rop.addr.len = 0;
  pt->rop_own = r == 0;
  pt->rop_proto = t->proto;
  pt->rop_ud = t->user_data;
  if ((rc = op_begin(pt, &pt->rop)) != 0) {
    coio__transport_fatal(t, rc);
    return;
  }
  pt->rop_busy = 1;
}

/* Errors that say the socket itself is unusable: even a datagram endpoint,
 * for which errors are otherwise per datagram (an ICMP port unreachable
 * from an earlier send, say), cannot go on after them. */
static int socket_broken(long err) {
  return err == COIO_EBADF || err == COIO_ENOTSOCK || err == COIO_EINVAL || err == COIO_ENOTSUP ||
         err == COIO_ECANCELED;
}

/* Hands n received bytes (or a datagram) to the core. */
static void deliver(pstream_t *pt, size_t n, int own) {
  coio_transport_t *t = pt->t;
  if (t->datagram)
    coio__transport_datagram(t, pt->rbuf, n, &pt->rop.addr);
  else if (own)
    coio__transport_received(t, pt->rbuf, n);
  else if (t->proto != pt->rop_proto || t->user_data != pt->rop_ud)
    /* set_protocol since the receive started: the bytes are in the old
     * protocol's buffer; the new one gets them as if read into our own. */
    coio__transport_received(t, pt->rop.iov[0].base, n);
  else
    coio__transport_buffer_filled(t, n);
}

static void on_received(pstream_t *pt, long res) {
  coio_transport_t *t = pt->t;
  if (res < 0) {
    /* A cancel we did not ask for (we cancel only in close) means the
     * backend gave up on the socket: fatal too. */
    if (t->datagram && !socket_broken(res)) {
      coio__transport_datagram_error(t, (int)res);
      recv_next(pt);
    } else {
      coio__transport_fatal(t, (int)res); /* ECONNRESET, ECONNABORTED, ... */
    }
    return;
  }
  if (!pt->want_read) {
    /* Paused (or the core stopped reading) while the receive was in the
     * kernel: keep what came, for read_start. */
    pt->held = res == 0 && !t->datagram ? HELD_EOF : HELD_DATA;
    pt->held_n = (size_t)res;
    pt->held_own = pt->rop_own;
    return;
  }
  if (res == 0 && !t->datagram) {
    coio__transport_eof(t); /* the core stops reading (read_stop) */
    return;
  }
  deliver(pt, (size_t)res, pt->rop_own);
  recv_next(pt); /* unless the protocol paused, closed or aborted meanwhile */
}

/* Completion of rop. Until now the kernel could write into rop's buffer
 * (rbuf or the protocol's) and, for RECVFROM, into rop.addr and the
 * backend's msghdr in rop.priv; all of it is ours again here. */
static void recv_done(coio__op_t *op, long res) {
  pstream_t *pt = op->owner;
  pt->rop_busy = 0;
  if (!pt->closed && !coio_loop_is_closed(pt->t->loop))
    on_received(pt, res);
  op_end(pt);
}

/* The kick: what read_start asked for, from the loop rather than from the
 * user's call. Delivers a receive kept while paused, then reads on. */
static void kick_cb(coio_loop_t *loop, void *arg) {
  pstream_t *pt = arg;
  (void)loop;
  pt->kick_pending = 0;
  if (pt->closed || !pt->want_read)
    return;
  if (pt->held != HELD_NONE) {
    int held = pt->held;
    pt->held = HELD_NONE;
    if (held == HELD_EOF)
      coio__transport_eof(pt->t);
    else
      deliver(pt, pt->held_n, pt->held_own);
  }
  recv_next(pt);
}

static void drv_read_start(coio_transport_t *t) {
  pstream_t *pt = t->drv_data;
  if (!pt || pt->closed)
    return;
  pt->want_read = 1;
  if (pt->kick_pending || pt->rop_busy)
    return; /* the kick or the receive's completion carries on */
  if (coio_call_soon(t->loop, kick_cb, pt, &pt->kick) == 0)
    pt->kick_pending = 1;
  else
    coio__transport_fatal(t, COIO_ENOMEM);
}

static void drv_read_stop(coio_transport_t *t) {
  pstream_t *pt = t->drv_data;
  if (pt)
    pt->want_read = 0; /* a receive in flight completes and is kept */
}

/* ---- writing ------------------------------------------------------------------------ */

/* Starts the next send if there is something to send and none is in
 * flight; with the buffer empty, a pending write_eof is done here. */
static void send_next(pstream_t *pt) {
  coio_transport_t *t = pt->t;
  int rc;
  if (pt->wop_busy || pt->closed)
    return;
  if (t->datagram) {
    coio__wblock_t *b = t->wbuf.head;
    if (!b || (t->flags & COIO__T_LOST))
      return;
    pt->wop.kind = COIO__OP_SENDTO;
    pt->wop.iov[0].base = b->data + b->start;
    pt->wop.iov[0].len = b->end - b->start;
    pt->wop.niov = 1;
    pt->wop.addr = b->addr; /* len 0: the connected peer */
  } else {
    size_t n = coio__transport_pending(t, pt->wop.iov, COIO__OP_MAX_IOV);
    if (n == 0) {
      if (coio__transport_eof_due(t)) {
        rc = coio__socket_shutdown_write(t->fd);
        if (rc != 0 && rc != COIO_ENOTCONN) { /* ENOTCONN: the peer is gone already */
          coio__transport_fatal(t, rc);
          return;
        }
        coio__transport_eof_done(t);
      }
      return;
    }
    pt->wop.kind = (t->flags & COIO__T_PIPE) ? COIO__OP_WRITE : COIO__OP_SEND;
    pt->wop.niov = n;
  }
  pt->wop.fd = t->fd;
  if ((rc = op_begin(pt, &pt->wop)) != 0) {
    coio__transport_fatal(t, rc);
    return;
  }
  pt->wop_busy = 1;
}

static void on_sent(pstream_t *pt, long res) {
  coio_transport_t *t = pt->t;
  if (t->datagram) {
    if (res < 0) {
      if (socket_broken(res)) {
        coio__transport_fatal(t, (int)res);
        return;
      }
      coio__transport_datagram_error(t, (int)res); /* this datagram is dropped */
    }
    coio__transport_datagram_sent(t);
  } else {
    if (res < 0) {
      coio__transport_fatal(t, (int)res); /* EPIPE, ECONNRESET, ... */
      return;
    }
    coio__transport_sent(t, (size_t)res); /* may be short: the rest goes next */
  }
  send_next(pt);
}

/* Completion of wop. Until now the kernel could read the write buffer's
 * blocks that wop.iov names (and, for SENDTO, wop.addr and the backend's
 * msghdr in wop.priv); the core may recycle them from here. */
static void send_done(coio__op_t *op, long res) {
  pstream_t *pt = op->owner;
  pt->wop_busy = 0;
  if (!pt->closed && !coio_loop_is_closed(pt->t->loop))
    on_sent(pt, res);
  op_end(pt);
}

static void drv_write_start(coio_transport_t *t) {
  pstream_t *pt = t->drv_data;
  if (pt)
    send_next(pt);
}

/* ---- closing -------------------------------------------------------------------------- */

static void drv_close(coio_transport_t *t) {
  pstream_t *pt = t->drv_data;
  if (!pt) {
    if (t->fd != COIO_INVALID_SOCKET)
      close_fd(t, t->fd);
    return;
  }
  pt->closed = 1;
  pt->want_read = 0;
  pt->held = HELD_NONE;
  pt->fd = t->fd;
  if (pt->kick_pending) {
    coio_handle_cancel(t->loop, pt->kick);
    pt->kick_pending = 0;
  }
  /* The completions of these cancels (or the ops' own results) drop the
   * last references; the socket is closed after the last. */
  if (pt->rop_busy)
    pt->ops->cancel(pt->bstate, &pt->rop);
  if (pt->wop_busy)
    pt->ops->cancel(pt->bstate, &pt->wop);
  if (pt->nops == 0)
    stream_free(pt);
}

/* ---- connecting -------------------------------------------------------------------------- */

typedef struct pconnect {
  coio__op_t op;
  coio_future_t *fut;
  pops_t *ops;
  void *bstate;
  coio_loop_t *loop;
  int busy;  /* the op is in flight */
  int holds; /* the op in flight + the done callback on fut */
} pconnect_t;

static void connect_release(pconnect_t *c) {
  if (--c->holds > 0)
    return;
  coio_future_unref(c->fut);
  free(c);
}

/* fut is done: by us (then the op has ended), or cancelled by the caller
 * (connect.c's task was cancelled): stop the attempt. */
static void connect_watch(coio_future_t *fut, void *arg) {
  pconnect_t *c = arg;
  (void)fut;
  if (c->busy)
    c->ops->cancel(c->bstate, &c->op);
  connect_release(c);
}

/* Completion of the CONNECT op. Until now the kernel could read op.addr
 * (and IOCP its OVERLAPPED in op.priv). */
static void connect_done(coio__op_t *op, long res) {
  pconnect_t *c = op->owner;
  c->busy = 0;
  if (coio_future_remove_done_callback(c->fut, connect_watch, c) > 0)
    c->holds--;
  if (coio_loop_is_closed(c->loop)) {
    /* A watch already scheduled was dropped with the loop's callbacks. */
    c->holds = 1;
  } else if (!coio_future_done(c->fut)) {
    if (res >= 0)
      coio_future_set_result(c->fut, NULL, NULL);
    else if (res == COIO_ECANCELED)
      coio_future_cancel(c->fut, NULL);
    else
      coio_future_set_error(c->fut, (int)res, NULL);
  }
  connect_release(c);
}

static int drv_connect(coio_loop_t *loop, coio_socket_t fd, const coio_sockaddr_t *addr,
                       coio_future_t *fut) {
  pops_t *ops = loop_ops(loop);
  pconnect_t *c;
  int rc;
  if (!ops)
    return COIO_ENOTSUP;
  if (!(c = calloc(1, sizeof *c)))
    return COIO_ENOMEM;
  c->ops = ops;
  c->bstate = coio__loop_backend_state(loop);
  c->loop = loop;
  if ((rc = ops->associate(c->bstate, fd)) != 0) {
    free(c);
    return rc;
  }
  c->op.kind = COIO__OP_CONNECT;
  c->op.fd = fd;
  c->op.addr = *addr;
  c->op.done = connect_done;
  c->op.owner = c;
  c->op.accepted = COIO_INVALID_SOCKET;
  if ((rc = coio_future_add_done_callback(fut, connect_watch, c)) != 0) {
    free(c);
    return rc;
  }
  if ((rc = ops->start(c->bstate, &c->op)) != 0) {
    coio_future_remove_done_callback(fut, connect_watch, c);
    free(c);
    return rc;
  }
  c->fut = coio_future_ref(fut);
  c->busy = 1;
  c->holds = 2;
  return 0;
}

/* ---- listening ------------------------------------------------------------------------------ */

typedef struct plisten {
  struct coio_server *s; /* not touched once stopping: the server may be freed */
  size_t i;
  coio_socket_t fd;
  coio_loop_t *loop;
  pops_t *ops;
  void *bstate;
  coio__op_t acc[NACCEPT];
  int busy[NACCEPT];
  int nops;     /* accepts in flight, plus one while a completion is handled */
  int stopping; /* listen_stop was called: the socket is closed after the last op */
  int backoff_pending;
  coio_handle_t backoff;
} plisten_t;

static void listener_free(plisten_t *l) {
  coio_socket_close(l->fd);
  free(l);
}

static int accept_start(plisten_t *l, int k) {
  coio__op_t *op = &l->acc[k];
  int rc;
  op->addr.len = 0;
  op->accepted = COIO_INVALID_SOCKET;
  if ((rc = l->ops->start(l->bstate, op)) != 0)
    return rc;
  l->busy[k] = 1;
  l->nops++;
  return 0;
}

/* Errors after which accepting goes on: the connection went away before
 * it was taken, or resources ran short (those retried after a back-off, as
 * the next accept would fail at once). Anything else is the listener's
 * end. */
static int accept_retry(long err, int *backoff) {
  *backoff = 0;
  switch (err) {
  case COIO_ECONNABORTED:
  case COIO_ECONNRESET:
  case COIO_EAGAIN:
  case COIO_EINTR:
  case COIO_EPERM: /* a firewall refused this one */
    return 1;
  case COIO_EBADF:
  case COIO_ENOTSOCK:
  case COIO_EINVAL:
  case COIO_ENOTSUP:
  case COIO_ECLOSED:
    return 0;
  default: /* EMFILE (and ENFILE), ENOMEM (and ENOBUFS), ECANCELED, EPROTO-like */
    *backoff = 1;
    return 1;
  }
}

static void backoff_cb(coio_loop_t *loop, void *arg) {
  plisten_t *l = arg;
  int k, rc;
  (void)loop;
  l->backoff_pending = 0;
  for (k = 0; k < NACCEPT && !l->stopping; k++) {
    if (l->busy[k])
      continue;
    if ((rc = accept_start(l, k)) != 0) {
      if (l->nops == 0)
        coio__server_listen_error(l->s, l->i, rc); /* stops and frees l */
      return;
    }
  }
}

static void on_accepted(plisten_t *l, int k, long res) {
  coio__op_t *op = &l->acc[k];
  int backoff, rc;
  if (res >= 0) {
    /* The factory may close the server: listen_stop then marks l. */
    coio__server_accepted(l->s, op->accepted, &op->addr);
    if (!l->stopping && (rc = accept_start(l, k)) != 0)
      coio__server_listen_error(l->s, l->i, rc);
    return;
  }
  if (!accept_retry(res, &backoff)) {
    coio__server_listen_error(l->s, l->i, (int)res);
    return;
  }
  if (!backoff) {
    if ((rc = accept_start(l, k)) != 0)
      coio__server_listen_error(l->s, l->i, rc);
    return;
  }
  /* Parked until the timer: every accept would fail the same way now. */
  if (!l->backoff_pending) {
    if (coio_call_later(l->loop, ACCEPT_BACKOFF, backoff_cb, l, &l->backoff) == 0)
      l->backoff_pending = 1;
    else if (l->nops == 1)
      coio__server_listen_error(l->s, l->i, COIO_ENOMEM); /* nothing left to retry */
  }
}

/* Completion of an ACCEPT op. Until now the kernel could write op.addr
 * (the peer's address) and the backend's state in op.priv (io_uring: the
 * address length; IOCP: AcceptEx's buffer). */
static void accept_done(coio__op_t *op, long res) {
  plisten_t *l = op->owner;
  int k = (int)(op - l->acc);
  l->busy[k] = 0;
  /* Still counted while handled, so that a listen_stop from inside the
   * server's callbacks cannot free l under us. */
  if (l->stopping || coio_loop_is_closed(l->loop)) {
    if (res >= 0)
      coio_socket_close(op->accepted); /* accepted after all: nobody takes it */
  } else {
    on_accepted(l, k, res);
  }
  if (--l->nops == 0 && l->stopping)
    listener_free(l);
}

static int drv_listen_start(struct coio_server *s, size_t i) {
  pops_t *ops = loop_ops(s->loop);
  plisten_t *l;
  int k, rc;
  if (!ops)
    return COIO_ENOTSUP;
  if (!(l = calloc(1, sizeof *l)))
    return COIO_ENOMEM;
  l->s = s;
  l->i = i;
  l->fd = s->listeners[i].fd;
  l->loop = s->loop;
  l->ops = ops;
  l->bstate = coio__loop_backend_state(s->loop);
  if ((rc = ops->associate(l->bstate, l->fd)) != 0) {
    free(l);
    return rc;
  }
  for (k = 0; k < NACCEPT; k++) {
    l->acc[k].kind = COIO__OP_ACCEPT;
    l->acc[k].fd = l->fd;
    l->acc[k].done = accept_done;
    l->acc[k].owner = l;
  }
  for (k = 0; k < NACCEPT; k++) {
    if ((rc = accept_start(l, k)) != 0) {
      if (k == 0) {
        free(l); /* nothing started: the socket stays the server's */
        return rc;
      }
      break; /* fewer accepts in flight is still a working listener */
    }
  }
  s->listeners[i].drv_data = l;
  return 0;
}

static void drv_listen_stop(struct coio_server *s, size_t i) {
  plisten_t *l = s->listeners[i].drv_data;
  int k;
  if (!l) {
    coio_socket_close(s->listeners[i].fd);
    return;
  }
  s->listeners[i].drv_data = NULL;
  l->stopping = 1;
  if (l->backoff_pending) {
    coio_handle_cancel(l->loop, l->backoff);
    l->backoff_pending = 0;
  }
  for (k = 0; k < NACCEPT; k++)
    if (l->busy[k])
      l->ops->cancel(l->bstate, &l->acc[k]);
  if (l->nops == 0)
    listener_free(l);
}

/* ---- one socket call of a task (common/sock.c: coio_sock_*) ------------------
 * One op on the completion seam per call (SENDALL: one after another until
 * all is sent), straight on the caller's buffer and address (nothing
 * copied). The op record is allocated here, not in the request on the
 * task's stack: if the loop is closed with the task still suspended, the
 * stack is freed before the backend ends its ops (proactor.h), and the
 * record must outlive that. Otherwise the caller (sock.c) does not return
 * before coio__sock_req_done, which is called only from the op's
 * completion: after a cancel too, the buffer is the kernel's until then
 * (PITFALLS 1: CancelIoEx is asynchronous; 3: buffers live until the
 * target's CQE). */

#define SOCK_SEND_MAX ((size_t)1 << 30) /* per op: WSABUF lengths are ULONG */

typedef struct psock {
  coio__op_t op;
  coio__sock_req_t *req;
  coio_future_t *fut; /* referenced: the caller's cancellation signal */
  coio_loop_t *loop;
  pops_t *ops;
  void *bstate;
  int busy;  /* the op is in flight */
  int holds; /* the op in flight + the watch on fut */
} psock_t;

static void psock_release(psock_t *p) {
  if (--p->holds > 0)
    return;
  coio_future_unref(p->fut);
  free(p);
}

/* fut was cancelled (the calling task was): ask the op to stop; its
 * completion, which follows in any case, ends the request. */
static void psock_watch(coio_future_t *fut, void *arg) {
  psock_t *p = arg;
  (void)fut;
  if (p->busy)
    p->ops->cancel(p->bstate, &p->op);
  psock_release(p);
}

/* op for the request (SENDALL: its next piece). */
static void psock_prepare(psock_t *p) {
  coio__sock_req_t *r = p->req;
  coio__op_t *op = &p->op;
  size_t left;
  op->fd = r->fd;
  op->niov = 1;
  op->iov[0].base = r->buf;
  op->iov[0].len = r->len;
  op->addr.len = 0;
  op->accepted = COIO_INVALID_SOCKET;
  switch (r->kind) {
  case COIO__SOCK_RECV:
    op->kind = COIO__OP_RECV;
    break;
  case COIO__SOCK_RECVFROM:
    op->kind = COIO__OP_RECVFROM;
    break;
  case COIO__SOCK_SENDALL:
    left = r->len - r->progress;
    op->kind = COIO__OP_SEND;
    op->iov[0].base = (unsigned char *)r->buf + r->progress;
    op->iov[0].len = left > SOCK_SEND_MAX ? SOCK_SEND_MAX : left;
    break;
  case COIO__SOCK_SENDTO:
    op->kind = COIO__OP_SENDTO;
    op->addr = r->addr; /* len 0: the connected peer */
    break;
  case COIO__SOCK_CONNECT:
    op->kind = COIO__OP_CONNECT; /* IOCP binds an unbound socket first */
    op->addr = r->addr;
    op->niov = 0;
    break;
  default: /* COIO__SOCK_ACCEPT */
    op->kind = COIO__OP_ACCEPT;
    op->niov = 0;
    break;
  }
}

/* The op's completion: the kernel has let go of the caller's buffer and
 * address (and of op). */
static void psock_done(coio__op_t *op, long res) {
  psock_t *p = op->owner;
  coio__sock_req_t *r = p->req;
  int rc;
  p->busy = 0;
  if (coio_loop_is_closed(p->loop)) {
    /* The calling task went with the loop, and with it the request; a
     * watch already queued was dropped with the loop's callbacks. */
    if (res >= 0 && op->kind == COIO__OP_ACCEPT)
      coio_socket_close(op->accepted);
    p->holds = 1;
    psock_release(p);
    return;
  }
  switch (r->kind) {
  case COIO__SOCK_SENDALL:
    if (res < 0)
      break;
    r->progress += (size_t)res; /* a short send: the rest goes next */
    if (r->progress == r->len) {
      res = 0;
    } else if (coio_future_done(p->fut)) {
      res = COIO_ECANCELED;
    } else {
      psock_prepare(p);
      if ((rc = p->ops->start(p->bstate, op)) == 0) {
        p->busy = 1;
        return;
      }
      res = rc;
    }
    break;
  case COIO__SOCK_RECVFROM:
    if (res >= 0)
      r->addr = op->addr;
    break;
  case COIO__SOCK_ACCEPT:
    if (res >= 0) {
      r->accepted = op->accepted; /* non-blocking, not inheritable (proactor.h) */
      r->addr = op->addr;
      res = 0;
    }
    break;
  case COIO__SOCK_CONNECT:
    if (res > 0)
      res = 0;
    break;
  default:
    break;
  }
  if (coio_future_remove_done_callback(p->fut, psock_watch, p) > 0)
    p->holds--;
  p->req = NULL;
  coio__sock_req_done(r, res);
  psock_release(p);
}

static int drv_sock_op(coio_loop_t *loop, coio__sock_req_t *req, coio_future_t *fut) {
  pops_t *ops = loop_ops(loop);
  psock_t *p;
  int rc;
  if (!ops)
    return COIO_ENOTSUP;
  if (!(p = calloc(1, sizeof *p)))
    return COIO_ENOMEM;
  p->req = req;
  p->loop = loop;
  p->ops = ops;
  p->bstate = coio__loop_backend_state(loop);
  /* IOCP: the socket joins the port before its first op; a repeat (the
   * next call on the same socket) succeeds (proactor.h). */
  if ((rc = ops->associate(p->bstate, req->fd)) != 0) {
    free(p);
    return rc;
  }
  p->op.done = psock_done;
  p->op.owner = p;
  psock_prepare(p);
  if ((rc = coio_future_add_done_callback(fut, psock_watch, p)) != 0) {
    free(p);
    return rc;
  }
  if ((rc = ops->start(p->bstate, &p->op)) != 0) {
    coio_future_remove_done_callback(fut, psock_watch, p);
    free(p);
    return rc;
  }
  p->fut = coio_future_ref(fut);
  p->busy = 1;
  p->holds = 2;
  return 0;
}

const coio__driver_t coio__proactor_driver = {
    drv_attach,   drv_read_start, drv_read_stop,    drv_write_start,
    drv_close,    drv_connect,    drv_listen_start, drv_listen_stop,
    drv_sock_op,  NULL, /* try_write: a proactor sends through its operations */
};
