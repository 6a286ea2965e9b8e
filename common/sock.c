/* common/sock.c - asyncio's sock_* calls for tasks (coio/sock.h), written
 * once over the driver seam's sock_op entry (transport_internal.h): the
 * argument checks, the await, and cancellation. How the bytes move is the
 * driver's: selector/transport.c tries the call and waits for readiness,
 * proactor/transport.c starts an operation on the completion seam.
 *
 * Cancellation. The request, the caller's buffer and address are handed
 * to the driver (and, on a proactor, to the kernel) without a copy, so the
 * call must not return while the kernel may still write into them: an
 * io_uring or IOCP operation goes on after its cancel was asked for, until
 * its own completion (PITFALLS sections 1 and 3). So when the task is
 * cancelled, coio_await returns first (the future the driver watches was
 * cancelled, which makes the driver stop the operation); then the task
 * suspends again, ignoring further cancel requests, until the driver's
 * coio__sock_req_done says the operation has ended. The request lives on
 * the task's stack, which stays put while the task is suspended.
 *
 * A cancel can lose the race with the operation: the data arrived, the
 * connection was accepted. Dropping that result would lose bytes the peer
 * sent (or a connection), so it is returned, and the cancellation is kept
 * pending (must_cancel) for the task's next suspension, as a cancel that
 * arrives while a task runs is delivered. */
#include <string.h>

#include "coio/error.h"
#include "coio/sock.h"
#include "backend.h"
#include "task_internal.h"
#include "transport_internal.h"

/* Per call: the result is a long, 32 bits on Windows, and WSABUF lengths
 * are ULONG. A receive may return less than asked, so this is allowed. */
#define MAX_CHUNK ((size_t)1 << 30)

void coio__sock_req_done(coio__sock_req_t *req, long result) {
  req->result = result;
  req->ended = 1;
  if (!coio_future_done(req->fut))
    coio_future_set_result(req->fut, NULL, NULL); /* resumes the awaiting task */
  else if (req->draining)
    coio__task_schedule(req->task); /* the task waits in run() below */
}

/* Runs req in the current task t. Returns the driver's result, or
 * COIO_ECANCELED. */
static long run(coio__task_t *t, coio__sock_req_t *req) {
  coio_loop_t *loop = t->fut.loop;
  const coio__driver_t *drv = coio__loop_backend_table(loop)->driver;
  coio_future_t *fut;
  int rc, cancelled = 0, failed = 0;
  long result;
  if (!drv || !drv->sock_op)
    return COIO_ENOTSUP;
  if ((rc = coio_future_new(loop, &fut)) != 0)
    return rc;
  req->loop = loop;
  req->fut = fut;
  req->task = t;
  req->accepted = COIO_INVALID_SOCKET;
  if ((rc = drv->sock_op(loop, req, fut)) != 0) {
    coio_future_unref(fut);
    return rc;
  }
  /* Done already (a call that needed no wait): returned without a
   * suspension, as asyncio's sock_recv does when data is there. */
  if (!req->ended) {
    rc = coio_await(fut);
    cancelled = rc == COIO_ECANCELED;
    if (!req->ended) {
      /* Resumed before the end: cancelled (or coio_await refused to wait,
       * which it does only for lack of memory: failed). Make sure the
       * driver stops, then wait until the kernel has let go of the
       * caller's memory. A second cancel request resumes us early: wait
       * on. */
      if (!cancelled)
        failed = rc;
      coio_future_cancel(fut, NULL);
      req->draining = 1;
      while (!req->ended)
        if (coio__task_suspend(t) == COIO_ECANCELED)
          cancelled = 1;
      req->draining = 0;
    }
  }
  coio_future_unref(fut);
  result = req->result;
  if (failed && result < 0 && !cancelled)
    result = failed;
  if (cancelled) {
    if (result >= 0)
      t->must_cancel = 1; /* the result stands; the cancel comes next */
    else
      result = COIO_ECANCELED;
  }
  return result;
}

/* The common checks; 0 and the current task, or an error. */
static int begin(coio__task_t **t, coio_socket_t sock, coio__sock_req_t *req, int kind) {
  if (!(*t = coio__task_current()))
    return COIO_ENOTASK;
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  memset(req, 0, sizeof *req);
  req->kind = kind;
  req->fd = sock;
  return 0;
}

static long recv_any(coio_socket_t sock, void *buf, size_t len, coio_sockaddr_t *from,
                     int kind) {
  coio__sock_req_t req;
  coio__task_t *t;
  long n;
  int rc;
  if (from)
    memset(from, 0, sizeof *from);
  if ((rc = begin(&t, sock, &req, kind)) != 0)
    return rc;
  if (!buf && len)
    return COIO_EINVAL;
  if (len == 0 && kind == COIO__SOCK_RECV)
    return 0; /* asyncio: sock_recv(sock, 0) is b'' at once */
  req.buf = buf;
  req.len = len > MAX_CHUNK ? MAX_CHUNK : len;
  n = run(t, &req);
  if (n >= 0 && from && kind == COIO__SOCK_RECVFROM)
    *from = req.addr;
  return n;
}

long coio_sock_recv(coio_socket_t sock, void *buf, size_t len) {
  return recv_any(sock, buf, len, NULL, COIO__SOCK_RECV);
}

long coio_sock_recv_into(coio_socket_t sock, void *buf, size_t len) {
  return recv_any(sock, buf, len, NULL, COIO__SOCK_RECV);
}

long coio_sock_recvfrom(coio_socket_t sock, void *buf, size_t len, coio_sockaddr_t *from) {
  return recv_any(sock, buf, len, from, COIO__SOCK_RECVFROM);
}

long coio_sock_recvfrom_into(coio_socket_t sock, void *buf, size_t len, coio_sockaddr_t *from) {
  return recv_any(sock, buf, len, from, COIO__SOCK_RECVFROM);
}

int coio_sock_sendall(coio_socket_t sock, const void *data, size_t len) {
  coio__sock_req_t req;
  coio__task_t *t;
  long n;
  int rc;
  if ((rc = begin(&t, sock, &req, COIO__SOCK_SENDALL)) != 0)
    return rc;
  if (!data && len)
    return COIO_EINVAL;
  if (len == 0)
    return 0;
  req.buf = (void *)(uintptr_t)data; /* only read */
  req.len = len;
  n = run(t, &req);
  return n < 0 ? (int)n : 0;
}

long coio_sock_sendto(coio_socket_t sock, const void *data, size_t len,
                      const coio_sockaddr_t *to) {
  coio__sock_req_t req;
  coio__task_t *t;
  int rc;
  if ((rc = begin(&t, sock, &req, COIO__SOCK_SENDTO)) != 0)
    return rc;
  if ((!data && len) || (to && (to->len == 0 || to->len > sizeof to->u.bytes)))
    return COIO_EINVAL;
  if (len > MAX_CHUNK)
    return COIO_EMSGSIZE; /* no datagram is that long */
  req.buf = (void *)(uintptr_t)data;
  req.len = len;
  if (to)
    req.addr = *to; /* len 0: the connected peer */
  return run(t, &req);
}

int coio_sock_connect(coio_socket_t sock, const coio_sockaddr_t *addr) {
  coio__sock_req_t req;
  coio__task_t *t;
  int rc;
  if ((rc = begin(&t, sock, &req, COIO__SOCK_CONNECT)) != 0)
    return rc;
  if (!addr || addr->len == 0 || addr->len > sizeof addr->u.bytes)
    return COIO_EINVAL;
  req.addr = *addr;
  return (int)run(t, &req);
}

int coio_sock_accept(coio_socket_t listener, coio_socket_t *out, coio_sockaddr_t *peer) {
  coio__sock_req_t req;
  coio__task_t *t;
  long rc;
  if (out)
    *out = COIO_INVALID_SOCKET;
  if (peer)
    memset(peer, 0, sizeof *peer);
  if ((rc = begin(&t, listener, &req, COIO__SOCK_ACCEPT)) != 0)
    return (int)rc;
  if (!out)
    return COIO_EINVAL;
  rc = run(t, &req);
  if (rc < 0)
    return (int)rc;
  *out = req.accepted;
  if (peer)
    *peer = req.addr;
  return 0;
}

/* ---- making sockets: the transport core's helpers (socket_posix.c,
 * socket_win.c), checked ------------------------------------------------------- */

int coio_socket_open(int family, int socktype, coio_socket_t *out) {
  if (!out)
    return COIO_EINVAL;
  *out = COIO_INVALID_SOCKET;
  /* COIO_AF_UNIX too where the OS helper has it (POSIX; elsewhere it
   * answers COIO_EAFNOSUPPORT) */
  if (family != COIO_AF_INET && family != COIO_AF_INET6 && family != COIO_AF_UNIX)
    return COIO_EAFNOSUPPORT;
  if (socktype != COIO_SOCK_STREAM && socktype != COIO_SOCK_DGRAM)
    return COIO_EINVAL;
  return coio__socket_open(family, socktype, out);
}

int coio_socket_bind(coio_socket_t sock, const coio_sockaddr_t *addr) {
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  if (!addr || addr->len == 0 || addr->len > sizeof addr->u.bytes)
    return COIO_EINVAL;
  return coio__socket_bind(sock, addr);
}

int coio_socket_listen(coio_socket_t sock, int backlog) {
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  return coio__socket_listen(sock, backlog > 0 ? backlog : 128);
}

int coio_socket_getsockname(coio_socket_t sock, coio_sockaddr_t *addr) {
  if (!addr)
    return COIO_EINVAL;
  memset(addr, 0, sizeof *addr);
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  return coio__socket_name(sock, addr);
}

int coio_socket_getpeername(coio_socket_t sock, coio_sockaddr_t *addr) {
  if (!addr)
    return COIO_EINVAL;
  memset(addr, 0, sizeof *addr);
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  return coio__socket_peer(sock, addr);
}
