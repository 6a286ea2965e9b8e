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
 *   (PITFALLS section 4).
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
  do
    n = recv(t->fd, buf, len, 0);
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
    do
      sent = sendmsg(t->fd, &msg, MSG_NOSIGNAL);
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

static void dgram_flush(coio_transport_t *t);

static void on_dgram_writable(coio_loop_t *loop, void *arg) {
  (void)loop;
  dgram_flush(arg);
}

static void dgram_flush(coio_transport_t *t) {
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
      coio__transport_datagram_error(t, coio__err_from_errno(errno));
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
    dgram_flush(t);
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

const coio__driver_t coio__selector_driver = {
    sel_attach, sel_read_start, sel_read_stop, sel_write_start, sel_close,
    sel_connect, sel_listen_start, sel_listen_stop,
};
