/* common/socket_posix.c - coio_socketpair and friends on POSIX. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coio/net.h"
#include "error_internal.h"

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
