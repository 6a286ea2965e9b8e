/* coio/net.h - sockets. */
#ifndef COIO_NET_H
#define COIO_NET_H

#include "platform.h"

COIO_BEGIN_DECLS

/* A connected pair of stream sockets, both non-blocking and not inherited
 * by child processes. On POSIX an AF_UNIX socketpair; on Windows (which has
 * none) a loopback TCP pair whose accepted end is checked to be the peer of
 * the connecting end, created overlapped so IOCP can use it. */
COIO_API int coio_socketpair(coio_socket_t pair[2]);

/* Closes a socket made by coio. */
COIO_API int coio_socket_close(coio_socket_t sock);

/* Blocking-free helpers for tests and examples: send/recv once on a
 * non-blocking socket. Return the byte count, or a negative COIO_E* code
 * (COIO_EAGAIN when it would block). */
COIO_API long coio_socket_send(coio_socket_t sock, const void *buf, size_t len);
COIO_API long coio_socket_recv(coio_socket_t sock, void *buf, size_t len);

COIO_END_DECLS

#endif /* COIO_NET_H */
