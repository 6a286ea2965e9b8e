/* common/socket_posix.c - coio_socketpair and friends on POSIX. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coio/net.h"
#include "error_internal.h"
#include "transport_internal.h"

int coio_socketpair(coio_socket_t pair[2]) {
  int sv[2];
  if (!pair)
    return COIO_EINVAL;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
    return coio__err_from_errno(errno);
  pair[0] = sv[0];
  pair[1] = sv[1];
  return 0;
}

int coio_socket_close(coio_socket_t sock) {
  if (sock < 0)
    return COIO_EBADF;
  /* POSIX leaves the fd state unspecified after EINTR; on Linux it is
   * closed, so never retry. */
  if (close(sock) != 0 && errno != EINTR)
    return coio__err_from_errno(errno);
  return 0;
}

long coio_socket_send(coio_socket_t sock, const void *buf, size_t len) {
  ssize_t n;
  if (!buf && len)
    return COIO_EINVAL;
  do
    n = send(sock, buf, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? coio__err_from_errno(errno) : (long)n;
}

long coio_socket_recv(coio_socket_t sock, void *buf, size_t len) {
  ssize_t n;
  if (!buf && len)
    return COIO_EINVAL;
  do
    n = recv(sock, buf, len, 0);
  while (n < 0 && errno == EINTR);
  return n < 0 ? coio__err_from_errno(errno) : (long)n;
}

/* ---- what the transport core needs (transport_internal.h) ------------------ */

static int os_family(int family) {
  switch (family) {
  case COIO_AF_INET:
    return AF_INET;
  case COIO_AF_INET6:
    return AF_INET6;
  case COIO_AF_UNIX: /* common/unix_socket.c */
    return AF_UNIX;
  default:
    return -1;
  }
}

int coio__socket_open(int family, int socktype, coio_socket_t *out) {
  int fam = os_family(family), fd;
  int type = socktype == COIO_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
  if (fam < 0)
    return COIO_EAFNOSUPPORT;
  fd = socket(fam, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return coio__err_from_errno(errno);
  if (type == SOCK_STREAM) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as asyncio */
  }
  *out = fd;
  return 0;
}

int coio__socket_bind(coio_socket_t fd, const coio_sockaddr_t *addr) {
  if (bind(fd, (const struct sockaddr *)addr->u.bytes, addr->len) != 0)
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_listen(coio_socket_t fd, int backlog) {
  if (listen(fd, backlog) != 0)
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_name(coio_socket_t fd, coio_sockaddr_t *addr) {
  socklen_t len = sizeof addr->u.bytes;
  if (getsockname(fd, (struct sockaddr *)addr->u.bytes, &len) != 0) {
    addr->len = 0;
    return coio__err_from_errno(errno);
  }
  addr->len = (uint32_t)len;
  return 0;
}

int coio__socket_peer(coio_socket_t fd, coio_sockaddr_t *addr) {
  socklen_t len = sizeof addr->u.bytes;
  if (getpeername(fd, (struct sockaddr *)addr->u.bytes, &len) != 0) {
    addr->len = 0;
    return coio__err_from_errno(errno);
  }
  addr->len = (uint32_t)len;
  return 0;
}

int coio__socket_set_reuse(coio_socket_t fd, int reuse_address, int reuse_port) {
  int on = 1;
  /* POSIX default: SO_REUSEADDR on for servers (asyncio's default), so a
   * restarted server can bind while old connections sit in TIME_WAIT. */
  if (reuse_address >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0)
    return coio__err_from_errno(errno);
  if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_set_v6only(coio_socket_t fd, int on) {
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_set_broadcast(coio_socket_t fd, int on) {
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on) != 0)
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_connect_now(coio_socket_t fd, const coio_sockaddr_t *addr) {
  /* datagram sockets: connect only records the peer, it never blocks */
  if (connect(fd, (const struct sockaddr *)addr->u.bytes, addr->len) != 0)
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_error(coio_socket_t fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return coio__err_from_errno(errno);
  return coio__err_from_errno(err);
}

int coio__socket_set_nonblocking(coio_socket_t fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0))
    return coio__err_from_errno(errno);
  return 0;
}

int coio__socket_shutdown_write(coio_socket_t fd) {
  if (shutdown(fd, SHUT_WR) != 0)
    return coio__err_from_errno(errno);
  return 0;
}
