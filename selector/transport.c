/* selector/transport.c - the readiness driver of the transport core
 * (common/transport_internal.h): the socket is non-blocking; reads and
 * writes are plain system calls made when the loop says the fd is ready
 * (asyncio's _SelectorSocketTransport / _SelectorDatagramTransport).
 *
 * - Writes are tried at once when the buffer was empty (no loop round trip
 *   for the common case); what the kernel does not take waits for the
 *   writer callback. Sends are vectored over the write buffer's blocks.
 * - Reads go into one buffer per thread: data_received's data is valid
 *   during the call only, so one transport never holds 64 KiB while idle.
 * - Every send uses MSG_NOSIGNAL: a peer's reset must not raise SIGPIPE
 *   (PITFALLS section 4). Pipe transports (COIO__T_PIPE) use read() and
 *   writev(), which have no such flag: SIGPIPE is ignored for them.
 * - A listener takes up to ACCEPT_BATCH connections per readiness event;
 *   on EMFILE/ENFILE it stops watching and retries after a back-off instead
 *   of spinning on a level-triggered fd (PITFALLS section 4). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "common/backend.h"
#include "common/error_internal.h"
#include "common/loop_internal.h"
#include "common/sys.h"
#include "common/transport_internal.h"

#define READ_SIZE 65536
#define MAX_IOV 64
#define ACCEPT_BATCH 16
#define EMFILE_BACKOFF 0.1 /* seconds */

static COIO__THREAD_LOCAL unsigned char read_buf[READ_SIZE];

/* ---- streams ---------------------------------------------------------------- */

static void on_readable(coio_loop_t *loop, void *arg) {
  coio_transport_t *t = arg;
  void *buf;
  size_t len;
  ssize_t n;
  int own;
  (void)loop;
  own = coio__transport_read_buffer(t, &buf, &len);
  if (own < 0)
    return; /* the protocol gave no buffer: the transport was aborted */
  if (own == 0) {
    buf = read_buf;
    len = sizeof read_buf;
  }
  do /* a pipe transport's fd is no socket: read() */
    n = (t->flags & COIO__T_PIPE) ? read(t->fd, buf, len) : recv(t->fd, buf, len, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    if (own)
      coio__transport_buffer_filled(t, (size_t)n);
    else
      coio__transport_received(t, buf, (size_t)n);
  } else if (n == 0) {
    coio__transport_eof(t);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    coio__transport_fatal(t, coio__err_from_errno(errno));
  }
}

static void flush(coio_transport_t *t);

static void on_writable(coio_loop_t *loop, void *arg) {
  (void)loop;
  flush(arg);
}

/* Sends as much as the kernel takes; watches for writability while
 * something is left; shuts the write side down once write_eof is due. */
static void flush(coio_transport_t *t) {
  coio_buf_t bufs[MAX_IOV];
  struct iovec iov[MAX_IOV];
  struct msghdr msg;
  size_t n, i;
  ssize_t sent;
  for (;;) {
    n = coio__transport_pending(t, bufs, MAX_IOV);
    if (n == 0)
      break;
    for (i = 0; i < n; i++) {
      iov[i].iov_base = (void *)(uintptr_t)bufs[i].base;
      iov[i].iov_len = bufs[i].len;
    }
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    /* A pipe has no MSG_NOSIGNAL: the pipe transports ignore SIGPIPE
     * instead (common/pipe_transport.c), so a gone reader is EPIPE. */
    /* One buffer (the common case: a reply written at once): send() /
     * write(), which skip sendmsg's msghdr and iovec import in the kernel. */
    do
      if (t->flags & COIO__T_PIPE)
        sent = n == 1 ? write(t->fd, iov[0].iov_base, iov[0].iov_len) : writev(t->fd, iov, (int)n);
      else
        sent = n == 1 ? send(t->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL)
                      : sendmsg(t->fd, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        coio_loop_add_writer(t->loop, t->fd, on_writable, t);
        return;
      }
      coio_loop_remove_writer(t->loop, t->fd);
      coio__transport_fatal(t, coio__err_from_errno(errno));
      return;
    }
    coio__transport_sent(t, (size_t)sent); /* may close the transport */
    if (t->flags & COIO__T_LOST)
      break;
  }
  coio_loop_remove_writer(t->loop, t->fd);
  if (coio__transport_eof_due(t)) {
    shutdown(t->fd, SHUT_WR);
    coio__transport_eof_done(t);
  }
}

/* ---- datagrams ---------------------------------------------------------------- */

static void on_dgram_readable(coio_loop_t *loop, void *arg) {
  coio_transport_t *t = arg;
  coio_sockaddr_t from;
  socklen_t fromlen = sizeof from.u.bytes;
  ssize_t n;
  (void)loop;
  do
    n = recvfrom(t->fd, read_buf, sizeof read_buf, 0, (struct sockaddr *)from.u.bytes, &fromlen);
  while (n < 0 && errno == EINTR);
  if (n >= 0) {
    from.len = (uint32_t)fromlen;
    coio__transport_datagram(t, read_buf, (size_t)n, &from);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
    /* ICMP errors on a connected UDP socket: reported, not fatal */
    coio__transport_datagram_error(t, coio__err_from_errno(errno));
  }
}

static void dgram_flush(coio_transport_t *t, int direct);

static void on_dgram_writable(coio_loop_t *loop, void *arg) {
  (void)loop;
  dgram_flush(arg, 0);
}

/* The error of a send tried at once from inside the user's sendto is
 * reported from the loop: no protocol callback runs inside a transport
 * call (transport.h), and the proactors report it from a completion. */
typedef struct dgram_err {
  coio_transport_t *t;
  int error;
} dgram_err_t;

static void dgram_err_drop(void *arg) {
  dgram_err_t *e = arg;
  coio__transport_unref(e->t);
  free(e);
}

static void dgram_err_cb(coio_loop_t *loop, void *arg) {
  dgram_err_t *e = arg;
  (void)loop;
  coio__transport_datagram_error(e->t, e->error); /* not once the endpoint is lost */
  dgram_err_drop(e);
}

static void dgram_error(coio_transport_t *t, int error, int direct) {
  dgram_err_t *e;
  if (!direct) {
    coio__transport_datagram_error(t, error);
    return;
  }
  if (!(e = malloc(sizeof *e)))
    return; /* out of memory: the report is lost with its datagram */
  e->t = t;
  e->error = error;
  coio__transport_ref(t);
  if (coio__cb_schedule(t->loop, dgram_err_cb, e, dgram_err_drop, NULL) != 0)
    dgram_err_drop(e);
}

/* direct: called from inside the user's sendto (write_start). */
static void dgram_flush(coio_transport_t *t, int direct) {
  while (t->wbuf.head && !(t->flags & COIO__T_LOST)) {
    coio__wblock_t *b = t->wbuf.head;
    ssize_t n;
    do
      n = b->addr.len ? sendto(t->fd, b->data + b->start, b->end - b->start, MSG_NOSIGNAL,
                               (const struct sockaddr *)b->addr.u.bytes, b->addr.len)
                      : send(t->fd, b->data + b->start, b->end - b->start, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      coio_loop_add_writer(t->loop, t->fd, on_dgram_writable, t);
      return;
    }
    if (n < 0)
      dgram_error(t, coio__err_from_errno(errno), direct);
    coio__transport_datagram_sent(t); /* sent, or reported and dropped */
  }
  coio_loop_remove_writer(t->loop, t->fd);
}

/* ---- the driver entries ------------------------------------------------------------ */

static int sel_attach(coio_transport_t *t) {
  (void)t;
  return 0;
}

static void sel_read_start(coio_transport_t *t) {
  coio_loop_add_reader(t->loop, t->fd, t->datagram ? on_dgram_readable : on_readable, t);
}

static void sel_read_stop(coio_transport_t *t) { coio_loop_remove_reader(t->loop, t->fd); }

static void sel_write_start(coio_transport_t *t) {
  if (t->datagram)
    dgram_flush(t, 1);
  else
    flush(t);
}

static void sel_close(coio_transport_t *t) {
  /* Removing the watches also cancels callbacks already queued for them
   * (io_watch.c), so nothing runs for t after this. */
  coio_loop_remove_reader(t->loop, t->fd);
  coio_loop_remove_writer(t->loop, t->fd);
  if (t->fd != COIO_INVALID_SOCKET)
    coio_socket_close(t->fd);
}

/* ---- connect ---------------------------------------------------------------------------- */

typedef struct connecting {
  coio_loop_t *loop;
  coio_socket_t fd;
  coio_future_t *fut;
  int watching;
} connecting_t;

static void on_connect_writable(coio_loop_t *loop, void *arg) {
  connecting_t *c = arg;
  int rc = coio__socket_error(c->fd);
  coio_loop_remove_writer(loop, c->fd);
  c->watching = 0;
  if (coio_future_done(c->fut))
    return;
  if (rc == 0)
    coio_future_set_result(c->fut, NULL, NULL);
  else
    coio_future_set_error(c->fut, rc, NULL);
}

/* Runs when the future is done, however that happened (connected, failed,
 * or cancelled by the waiting task): the one place c is released. */
static void on_connect_done(coio_future_t *fut, void *arg) {
  connecting_t *c = arg;
  (void)fut;
  if (c->watching)
    coio_loop_remove_writer(c->loop, c->fd);
  coio_future_unref(c->fut);
  free(c);
}

static int sel_connect(coio_loop_t *loop, coio_socket_t fd, const coio_sockaddr_t *addr,
                       coio_future_t *fut) {
  connecting_t *c;
  int rc;
  if (connect(fd, (const struct sockaddr *)addr->u.bytes, addr->len) == 0)
    return coio_future_set_result(fut, NULL, NULL);
  if (errno != EINPROGRESS && errno != EINTR)
    return coio_future_set_error(fut, coio__err_from_errno(errno), NULL);
  if (!(c = calloc(1, sizeof *c)))
    return COIO_ENOMEM;
  c->loop = loop;
  c->fd = fd;
  c->fut = coio_future_ref(fut);
  if ((rc = coio_loop_add_writer(loop, fd, on_connect_writable, c)) != 0 ||
      (rc = coio_future_add_done_callback(fut, on_connect_done, c)) != 0) {
    coio_loop_remove_writer(loop, fd);
    coio_future_unref(c->fut);
    free(c);
    return rc;
  }
  c->watching = 1;
  return 0;
}

/* ---- listening -------------------------------------------------------------------------- */

typedef struct listening {
  coio_server_t *s;
  size_t i;
  coio_handle_t backoff;
} listening_t;

static void on_acceptable(coio_loop_t *loop, void *arg);

static void resume_accepting(coio_loop_t *loop, void *arg) {
  listening_t *l = arg;
  l->backoff.id = 0;
  coio_loop_add_reader(loop, l->s->listeners[l->i].fd, on_acceptable, l);
}

static void on_acceptable(coio_loop_t *loop, void *arg) {
  listening_t *l = arg;
  coio_server_t *s = l->s;
  coio_socket_t lfd = s->listeners[l->i].fd;
  int k;
  for (k = 0; k < ACCEPT_BATCH && s->listeners[l->i].active; k++) {
    coio_sockaddr_t peer;
    socklen_t len = sizeof peer.u.bytes;
    int fd = accept4(lfd, (struct sockaddr *)peer.u.bytes, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      int one = 1;
      peer.len = (uint32_t)len;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      coio__server_accepted(s, fd, &peer);
      continue;
    }
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return;
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      continue; /* that connection's problem, not the listener's */
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      /* Out of descriptors: a level-triggered listener would spin. Stop
       * watching and try again later. */
      coio_loop_remove_reader(loop, lfd);
      coio_call_later(loop, EMFILE_BACKOFF, resume_accepting, l, &l->backoff);
      return;
    default:
      coio__server_listen_error(s, l->i, coio__err_from_errno(errno));
      return;
    }
  }
}

static int sel_listen_start(coio_server_t *s, size_t i) {
  listening_t *l = calloc(1, sizeof *l);
  int rc;
  if (!l)
    return COIO_ENOMEM;
  l->s = s;
  l->i = i;
  if ((rc = coio_loop_add_reader(s->loop, s->listeners[i].fd, on_acceptable, l)) != 0) {
    free(l);
    return rc;
  }
  s->listeners[i].drv_data = l;
  return 0;
}

static void sel_listen_stop(coio_server_t *s, size_t i) {
  listening_t *l = s->listeners[i].drv_data;
  coio_loop_remove_reader(s->loop, s->listeners[i].fd);
  if (l) {
    coio_handle_cancel(s->loop, l->backoff);
    free(l);
    s->listeners[i].drv_data = NULL;
  }
  coio_socket_close(s->listeners[i].fd);
}

/* ---- one socket call of a task (common/sock.c: coio_sock_*) ----------------
 * asyncio's selector sock_* methods: try the call at once; if it would
 * block, watch the fd (readable for the receives and accept, writable for
 * the sends and connect) and try again when it is ready. req lives on the
 * calling task's stack until coio__sock_req_done, and is the watch's
 * argument. A cancelled future removes the watch (which also drops a
 * readiness callback already queued, io_watch.c); nothing is in the kernel,
 * so the request ends at once. */

static int sock_wants_read(const coio__sock_req_t *r) {
  return r->kind == COIO__SOCK_RECV || r->kind == COIO__SOCK_RECVFROM ||
         r->kind == COIO__SOCK_ACCEPT;
}

/* One attempt: 1 with *res when the call is over, 0 if it would block. */
static int sock_try(coio__sock_req_t *r, long *res) {
  ssize_t n = -1;
  socklen_t alen = sizeof r->addr.u.bytes;
  int fd;
  switch (r->kind) {
  case COIO__SOCK_RECV:
    do
      n = recv(r->fd, r->buf, r->len, 0);
    while (n < 0 && errno == EINTR);
    break;
  case COIO__SOCK_RECVFROM:
    do
      n = recvfrom(r->fd, r->buf, r->len, 0, (struct sockaddr *)r->addr.u.bytes, &alen);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
      r->addr.len = (uint32_t)alen;
    break;
  case COIO__SOCK_SENDALL:
    while (r->progress < r->len) {
      do /* MSG_NOSIGNAL: a peer's reset is EPIPE, not SIGPIPE (PITFALLS 4) */
        n = send(r->fd, (const char *)r->buf + r->progress, r->len - r->progress, MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        break;
      r->progress += (size_t)n;
    }
    if (r->progress == r->len)
      n = 0;
    break;
  case COIO__SOCK_SENDTO:
    do
      n = r->addr.len ? sendto(r->fd, r->buf, r->len, MSG_NOSIGNAL,
                               (const struct sockaddr *)r->addr.u.bytes, r->addr.len)
                      : send(r->fd, r->buf, r->len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    break;
  case COIO__SOCK_CONNECT:
    /* PITFALLS 4: EINPROGRESS, then writable, then SO_ERROR has the
     * outcome. An interrupted connect goes on in the background too. */
    if (r->drv_state) {
      *res = coio__socket_error(r->fd);
      return 1;
    }
    r->drv_state = 1;
    if (connect(r->fd, (const struct sockaddr *)r->addr.u.bytes, r->addr.len) == 0)
      n = 0;
    else if (errno == EINPROGRESS || errno == EINTR)
      return 0;
    else {
      *res = coio__err_from_errno(errno); /* even EAGAIN: a full AF_UNIX backlog */
      return 1;
    }
    break;
  case COIO__SOCK_ACCEPT:
    /* accept4: non-blocking and close-on-exec from the start, never a
     * window for a concurrent fork/exec to inherit it (PITFALLS 4). A
     * connection that went away in the queue is skipped. */
    for (;;) {
      alen = sizeof r->addr.u.bytes;
      fd = accept4(r->fd, (struct sockaddr *)r->addr.u.bytes, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        int one = 1;
        r->addr.len = (uint32_t)alen;
        /* as the IOCP backend's accept does; fails harmlessly off TCP */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        r->accepted = fd;
        n = 0;
        break;
      }
      if (errno != EINTR && errno != ECONNABORTED && errno != EPROTO)
        break;
    }
    break;
  default:
    *res = COIO_EINVAL;
    return 1;
  }
  if (n >= 0) {
    *res = (long)n;
    return 1;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK)
    return 0;
  *res = coio__err_from_errno(errno);
  return 1;
}

static void sock_unwatch(coio__sock_req_t *r) {
  if (sock_wants_read(r))
    coio_loop_remove_reader(r->loop, r->fd);
  else
    coio_loop_remove_writer(r->loop, r->fd);
}

static void sock_cancelled(coio_future_t *fut, void *arg);

static void sock_ready(coio_loop_t *loop, void *arg) {
  coio__sock_req_t *r = arg;
  long res;
  (void)loop;
  /* Cancelled, its sock_cancelled queued: take nothing from the socket
   * (data read now would be lost to the caller). */
  if (coio_future_done(r->fut))
    return;
  if (!sock_try(r, &res))
    return; /* not yet (or a partial send): still watching */
  sock_unwatch(r);
  coio_future_remove_done_callback(r->fut, sock_cancelled, r);
  coio__sock_req_done(r, res);
}

/* The caller's future was cancelled: the task was. */
static void sock_cancelled(coio_future_t *fut, void *arg) {
  coio__sock_req_t *r = arg;
  (void)fut;
  sock_unwatch(r);
  coio__sock_req_done(r, COIO_ECANCELED);
}

static int sel_sock_op(coio_loop_t *loop, coio__sock_req_t *r, coio_future_t *fut) {
  long res;
  int rc;
  if (sock_try(r, &res)) {
    coio__sock_req_done(r, res);
    return 0;
  }
  rc = sock_wants_read(r) ? coio_loop_add_reader(loop, r->fd, sock_ready, r)
                          : coio_loop_add_writer(loop, r->fd, sock_ready, r);
  if (rc != 0)
    return rc;
  if ((rc = coio_future_add_done_callback(fut, sock_cancelled, r)) != 0) {
    sock_unwatch(r);
    return rc;
  }
  return 0;
}

/* A write into an empty buffer: straight to the kernel (see try_write). */
static long sel_try_write(coio_transport_t *t, const void *data, size_t len) {
  ssize_t n;
  do
    n = (t->flags & COIO__T_PIPE) ? write(t->fd, data, len) : send(t->fd, data, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n > 0 ? (long)n : 0; /* EAGAIN or an error: queued, flush sees the error */
}

const coio__driver_t coio__selector_driver = {
    sel_attach, sel_read_start, sel_read_stop, sel_write_start, sel_close,
    sel_connect, sel_listen_start, sel_listen_stop, sel_sock_op, sel_try_write,
};
