/* coio/sock.h - asyncio's low-level socket calls for tasks (loop.sock_recv,
 * sock_recv_into, sock_recvfrom, sock_recvfrom_into, sock_sendall,
 * sock_sendto, sock_connect, sock_accept), and helpers that make sockets
 * to pass to them.
 *
 * The loop is implicit: every coio_sock_* call is (task) and works on the
 * loop of the task that makes it, as asyncio's are methods of the running
 * loop. Outside a task they return COIO_ENOTASK.
 *
 * The socket must be non-blocking (coio_socket_open, coio_socketpair and
 * coio_sock_accept make such sockets; on Windows it must also be
 * overlapped, which theirs are). On a proactor loop (IOCP, io_uring) the
 * first call associates it with the loop (IOCP: its completion port, for
 * the socket's whole life): use a socket with one loop only. A socket used
 * by a transport must not be used with these calls.
 *
 * Buffers are the caller's and nothing is copied: on a proactor loop the
 * kernel writes the received bytes straight into buf. Each call returns
 * only once the system has let go of buf (and of the address), also when
 * the task is cancelled: the pending operation is then cancelled and the
 * call waits for its completion before it returns COIO_ECANCELED, so the
 * buffer may be freed or reused as soon as the call returned. If the
 * operation completed anyway (the data arrived as the cancel was being
 * made), the call returns that result instead, so no data and no accepted
 * connection is lost, and the cancellation stays pending: the task's next
 * suspension returns COIO_ECANCELED.
 *
 * One call of each direction per socket at a time (one receiving call and
 * one sending call may be pending together), as with asyncio.
 *
 * End the tasks before closing their loop (coio_run cancels them and waits
 * for them): a task still suspended in one of these calls when its loop is
 * closed is freed without returning, while the backend ends the operation
 * (its buffer must then outlive the loop's close).
 *
 * Errors are negative COIO_E* codes: COIO_ENOTASK outside a task,
 * COIO_EBADF for COIO_INVALID_SOCKET, COIO_EINVAL for a NULL buffer (with
 * a non-zero length) or address, COIO_ECANCELED (see above), and what the
 * system reports (COIO_ECONNRESET, COIO_ECONNREFUSED, ...). */
#ifndef COIO_SOCK_H
#define COIO_SOCK_H

#include "net.h"

COIO_BEGIN_DECLS

/* ---- the calls (task) ------------------------------------------------------- */

/* Receives up to len bytes into buf (at most 1 GiB per call): the byte
 * count, 0 at EOF (or for len 0, at once), or an error. */
COIO_API long coio_sock_recv(coio_socket_t sock, void *buf, size_t len);
/* asyncio's sock_recv_into. In C both receive into the caller's buffer:
 * the same call as coio_sock_recv. */
COIO_API long coio_sock_recv_into(coio_socket_t sock, void *buf, size_t len);

/* Receives one datagram into buf (the part of a longer one that fits; the
 * rest is dropped): its byte count, and its source in *from (may be NULL).
 * On Windows the socket must be bound first (coio_socket_bind). */
COIO_API long coio_sock_recvfrom(coio_socket_t sock, void *buf, size_t len,
                                 coio_sockaddr_t *from);
/* asyncio's sock_recvfrom_into: the same call as coio_sock_recvfrom. */
COIO_API long coio_sock_recvfrom_into(coio_socket_t sock, void *buf, size_t len,
                                      coio_sockaddr_t *from);

/* Sends all len bytes of data, suspending while the socket's buffer is
 * full: 0 once all were sent, or an error. After an error or a
 * cancellation an unknown part of data may have been sent (as asyncio). */
COIO_API int coio_sock_sendall(coio_socket_t sock, const void *data, size_t len);

/* Sends one datagram (len may be 0) to *to (NULL: the connected peer): the
 * byte count sent, or an error. */
COIO_API long coio_sock_sendto(coio_socket_t sock, const void *data, size_t len,
                               const coio_sockaddr_t *to);

/* Connects a stream socket to *addr: 0 or an error (COIO_ECONNREFUSED, ...).
 * On IOCP an unbound socket is bound to the wildcard address first
 * (ConnectEx needs it). A cancelled connect leaves the socket unusable:
 * close it. */
COIO_API int coio_sock_connect(coio_socket_t sock, const coio_sockaddr_t *addr);

/* Accepts a connection on a listening socket: 0 with *out, a new socket
 * (non-blocking, not inherited by child processes, TCP_NODELAY; close it
 * with coio_socket_close), and its peer's address in *peer (may be NULL). */
COIO_API int coio_sock_accept(coio_socket_t listener, coio_socket_t *out, coio_sockaddr_t *peer);

/* ---- making sockets (any thread) --------------------------------------------- */

/* A new socket for these calls: family COIO_AF_INET or COIO_AF_INET6 (or
 * COIO_AF_UNIX on POSIX), socktype COIO_SOCK_STREAM (TCP with TCP_NODELAY,
 * as asyncio sets it) or COIO_SOCK_DGRAM (UDP). Non-blocking, not inherited by child processes,
 * overlapped on Windows. 0 and *out, or an error (COIO_EAFNOSUPPORT, ...).
 * Close it with coio_socket_close. */
COIO_API int coio_socket_open(int family, int socktype, coio_socket_t *out);
/* bind(); addr->len must be set (coio_sockaddr_from_string does). */
COIO_API int coio_socket_bind(coio_socket_t sock, const coio_sockaddr_t *addr);
/* listen() with backlog (<= 0: a default of 128). */
COIO_API int coio_socket_listen(coio_socket_t sock, int backlog);
/* getsockname(): the local address (the port bind chose for port 0). */
COIO_API int coio_socket_getsockname(coio_socket_t sock, coio_sockaddr_t *addr);
/* getpeername(): the connected peer's address. */
COIO_API int coio_socket_getpeername(coio_socket_t sock, coio_sockaddr_t *addr);

COIO_END_DECLS

#endif /* COIO_SOCK_H */
