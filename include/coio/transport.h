/* coio/transport.h - transports and protocols (asyncio's Protocol,
 * BufferedProtocol, DatagramProtocol, Transport), and the loop calls that
 * make them: create_connection, create_server, create_datagram_endpoint.
 *
 * A protocol is a table of callbacks plus a user_data pointer; the loop
 * calls them, never re-entrantly from inside a transport call. A protocol
 * written once behaves the same on epoll, io_uring and IOCP.
 *
 * Lifetime: a transport is owned by its loop. It is valid from
 * connection_made until connection_lost returns (connection_lost is called
 * exactly once, after close, abort, EOF or an error); never use it after.
 * Every byte accepted by a write call is either delivered to the kernel or
 * reported lost through connection_lost's error. */
#ifndef COIO_TRANSPORT_H
#define COIO_TRANSPORT_H

#include "future.h"
#include "net.h"

COIO_BEGIN_DECLS

typedef struct coio_transport coio_transport_t;
typedef struct coio_server coio_server_t;

/* A stream protocol. connection_made, eof_received, pause_writing and
 * resume_writing may be NULL; connection_lost may be NULL; either
 * data_received or both get_buffer and buffer_updated must be set (else
 * the creating call fails with COIO_EINVAL). */
typedef struct coio_protocol {
  void (*connection_made)(coio_transport_t *t, void *user_data);
  /* data is valid during the call only. */
  void (*data_received)(coio_transport_t *t, const void *data, size_t len, void *user_data);
  /* The peer closed its side. Return 1 to keep the transport open for
   * writing (half-close); 0 (or a NULL callback) closes it. */
  int (*eof_received)(coio_transport_t *t, void *user_data);
  /* error: 0 for a clean close or EOF, else why (COIO_ECONNRESET, ...). */
  void (*connection_lost)(coio_transport_t *t, int error, void *user_data);
  /* The write buffer went above the high-water mark / back to the low one. */
  void (*pause_writing)(coio_transport_t *t, void *user_data);
  void (*resume_writing)(coio_transport_t *t, void *user_data);
  /* BufferedProtocol: when get_buffer is set, received data is written into
   * the buffer it returns (at least 1 byte; *size receives its length) and
   * buffer_updated tells how many bytes arrived. The proactor reads
   * straight into that memory. */
  void *(*get_buffer)(coio_transport_t *t, size_t size_hint, size_t *size, void *user_data);
  void (*buffer_updated)(coio_transport_t *t, size_t nbytes, void *user_data);
} coio_protocol_t;

/* A datagram protocol. Any callback but datagram_received may be NULL. */
typedef struct coio_datagram_protocol {
  void (*connection_made)(coio_transport_t *t, void *user_data);
  void (*datagram_received)(coio_transport_t *t, const void *data, size_t len,
                            const coio_sockaddr_t *from, void *user_data);
  /* A send or receive failed (ICMP port unreachable, say); the endpoint
   * stays open. */
  void (*error_received)(coio_transport_t *t, int error, void *user_data);
  void (*connection_lost)(coio_transport_t *t, int error, void *user_data);
} coio_datagram_protocol_t;

/* One piece of a vectored write. */
typedef struct coio_buf {
  const void *base;
  size_t len;
} coio_buf_t;

/* ---- transports --------------------------------------------------------- */

/* Queues data (copied) and returns at once; never blocks. COIO_ECLOSED once
 * the transport is closing, COIO_EPIPE after write_eof, COIO_EINVAL for
 * a datagram transport or NULL. */
COIO_API int coio_transport_write(coio_transport_t *t, const void *data, size_t len);
COIO_API int coio_transport_writelines(coio_transport_t *t, const coio_buf_t *bufs, size_t n);
/* Datagram transports: sends one datagram to addr (NULL: the connected
 * peer). Queued when the socket is busy. */
COIO_API int coio_transport_sendto(coio_transport_t *t, const void *data, size_t len,
                                   const coio_sockaddr_t *addr);
/* Closes the write side once the buffer is flushed (TCP shutdown). */
COIO_API int coio_transport_write_eof(coio_transport_t *t);
COIO_API int coio_transport_can_write_eof(const coio_transport_t *t); /* 1 or 0 */
/* Flushes the buffer, then closes; connection_lost(0) follows. Idempotent. */
COIO_API int coio_transport_close(coio_transport_t *t);
/* Closes at once, dropping the buffer; connection_lost(0) follows. */
COIO_API int coio_transport_abort(coio_transport_t *t);
COIO_API int coio_transport_is_closing(const coio_transport_t *t); /* 1 or 0 */
COIO_API int coio_transport_pause_reading(coio_transport_t *t);
COIO_API int coio_transport_resume_reading(coio_transport_t *t);
COIO_API int coio_transport_is_reading(const coio_transport_t *t); /* 1 or 0 */
/* high 0: the default (64 KiB); low defaults to high / 4. low <= high. */
COIO_API int coio_transport_set_write_buffer_limits(coio_transport_t *t, size_t high, size_t low);
COIO_API int coio_transport_get_write_buffer_limits(const coio_transport_t *t, size_t *high,
                                                    size_t *low);
COIO_API size_t coio_transport_get_write_buffer_size(const coio_transport_t *t);
/* get_extra_info: */
COIO_API int coio_transport_peername(const coio_transport_t *t, coio_sockaddr_t *addr);
COIO_API int coio_transport_sockname(const coio_transport_t *t, coio_sockaddr_t *addr);
COIO_API coio_socket_t coio_transport_socket(const coio_transport_t *t);
COIO_API coio_loop_t *coio_transport_loop(const coio_transport_t *t);
/* Replaces the protocol (stream transports); the new one gets the next
 * callbacks. */
COIO_API int coio_transport_set_protocol(coio_transport_t *t, const coio_protocol_t *proto,
                                         void *user_data);

/* ---- making connections ---------------------------------------------------- */

typedef struct coio_connect_options {
  int family;                        /* COIO_AF_*: restrict resolution */
  const coio_sockaddr_t *local_addr; /* bind before connecting */
  /* Use this connected stream socket instead of host/port (the transport
   * takes it over; host must be NULL). */
  int use_sock;
  coio_socket_t sock;
  /* RFC 8305 Happy Eyeballs: seconds to wait before starting the next
   * address's attempt in parallel; 0 tries the addresses one by one. */
  double happy_eyeballs_delay;
  /* TLS (coio/tls.h): a client context makes this a TLS connection; the
   * future resolves after the handshake. server_hostname: the name sent
   * (SNI) and checked (NULL: host). Timeouts in seconds, 0: 60 / 30. */
  struct coio_tls_context *tls;
  const char *server_hostname;
  double tls_handshake_timeout;
  double tls_shutdown_timeout;
} coio_connect_options_t;

/* Resolves host (asynchronously) and connects to each address in turn until
 * one works, then makes a transport with proto/user_data. The future's
 * value is the coio_transport_t * (owned by the loop, see above), after
 * connection_made was scheduled. Errors: the connection's error for a
 * single address (COIO_ECONNREFUSED...), else the last one; resolution
 * errors from coio_getaddrinfo. */
COIO_API int coio_create_connection(coio_loop_t *loop, const coio_protocol_t *proto,
                                    void *user_data, const char *host, int port,
                                    const coio_connect_options_t *opts, coio_future_t **out);

/* A transport for an already connected stream socket (asyncio's
 * connect_accepted_socket, and create_connection(sock=)). */
COIO_API int coio_connect_socket(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                                 coio_socket_t sock, coio_future_t **out);

/* ---- servers -------------------------------------------------------------------- */

/* Called for each accepted connection: fill *proto and *user_data and
 * return 0, or return an error code to refuse it (the socket is closed). */
typedef int (*coio_protocol_factory_t)(void *factory_data, const coio_protocol_t **proto,
                                       void **user_data);

typedef struct coio_server_options {
  int family;        /* COIO_AF_*: restrict resolution */
  int backlog;       /* 0: 100 */
  int reuse_address; /* -1: off; 0: platform default (on for POSIX); 1: on */
  int reuse_port;
  int use_sock; /* serve on this bound socket instead of host/port */
  coio_socket_t sock;
  int no_start; /* create without accepting yet (see coio_server_start) */
  /* TLS (coio/tls.h): a server context makes every accepted connection TLS
   * (the protocol's connection_made runs after the handshake). */
  struct coio_tls_context *tls;
  double tls_handshake_timeout; /* seconds; 0: 60 */
  double tls_shutdown_timeout;  /* seconds; 0: 30 */
} coio_server_options_t;

/* Listens on every address host resolves to (NULL host: all interfaces,
 * IPv4 and IPv6; port 0: a free port). The future's value is the
 * coio_server_t *, owned by the caller: close it, then free it. */
COIO_API int coio_create_server(coio_loop_t *loop, coio_protocol_factory_t factory,
                                void *factory_data, const char *host, int port,
                                const coio_server_options_t *opts, coio_future_t **out);
COIO_API int coio_server_start(coio_server_t *s);
COIO_API int coio_server_is_serving(const coio_server_t *s);
/* Stops listening (the sockets are closed); live connections go on. */
COIO_API int coio_server_close(coio_server_t *s);
/* Closes / aborts every live connection the server accepted. */
COIO_API int coio_server_close_clients(coio_server_t *s);
COIO_API int coio_server_abort_clients(coio_server_t *s);
/* (task) Waits until the server is closed and its connections are gone. */
COIO_API int coio_server_wait_closed(coio_server_t *s);
/* The listening sockets: how many (writes at most max). */
COIO_API size_t coio_server_sockets(const coio_server_t *s, coio_socket_t *socks, size_t max);
COIO_API int coio_server_sockname(const coio_server_t *s, size_t i, coio_sockaddr_t *addr);
/* Frees a closed server (COIO_EBUSY while it still has connections). */
COIO_API int coio_server_free(coio_server_t *s);

/* ---- datagrams -------------------------------------------------------------------- */

typedef struct coio_datagram_options {
  int family;
  const coio_sockaddr_t *local_addr;  /* bind here */
  const coio_sockaddr_t *remote_addr; /* connect here: sendto's addr may be NULL */
  int reuse_port;
  int allow_broadcast;
  int use_sock; /* use this datagram socket */
  coio_socket_t sock;
} coio_datagram_options_t;

/* The future's value is the datagram transport. */
COIO_API int coio_create_datagram_endpoint(coio_loop_t *loop,
                                           const coio_datagram_protocol_t *proto, void *user_data,
                                           const coio_datagram_options_t *opts,
                                           coio_future_t **out);

/* ---- Unix domain sockets (Linux; COIO_ENOTSUP on Windows) ------------------- */

/* Connects a stream socket to path (a file system path, or '@name' for a
 * Linux abstract name: coio_sockaddr_from_unix) and makes a transport, as
 * coio_create_connection does (same future, same transports). */
COIO_API int coio_create_unix_connection(coio_loop_t *loop, const coio_protocol_t *proto,
                                         void *user_data, const char *path, coio_future_t **out);

/* A server listening on path ('@name': abstract). A stale socket file at
 * path is removed first, as asyncio does (only when it is a socket: any
 * other file makes the bind fail with COIO_EADDRINUSE). The file is left
 * when the server closes. opts: backlog and no_start are used (NULL: the
 * defaults). The future's value is the coio_server_t *, as
 * coio_create_server's. */
COIO_API int coio_create_unix_server(coio_loop_t *loop, coio_protocol_factory_t factory,
                                     void *factory_data, const char *path,
                                     const coio_server_options_t *opts, coio_future_t **out);

/* ---- pipes ----------------------------------------------------------------------- */

/* A read-pipe transport on an existing pipe end (asyncio's
 * connect_read_pipe): data_received / eof_received / connection_lost;
 * the write calls answer COIO_ENOTSUP, can_write_eof 0. A write-pipe
 * transport (connect_write_pipe): write, writelines, write_eof (= close
 * once flushed: a pipe has no half-close), close, abort, flow control;
 * pause/resume_reading answer COIO_ENOTSUP and nothing is read. When the
 * reader is gone a write ends in connection_lost(COIO_EPIPE).
 *
 * The transport owns the pipe end from a successful call on (closed after
 * connection_lost). POSIX: the fd is made non-blocking; the first write
 * pipe makes the process ignore SIGPIPE if its disposition is still the
 * default (a write() has no MSG_NOSIGNAL, and io_uring writes cannot block
 * it per call; PITFALLS 4): a child process must restore it. Windows: the
 * handle must have been opened with FILE_FLAG_OVERLAPPED (coio_pipe_open,
 * or a named pipe); an anonymous pipe gives COIO_EINVAL.
 * Peer/sock names answer COIO_ENOTSUP and coio_transport_socket
 * COIO_INVALID_SOCKET for pipe transports. The future's value is the
 * transport, after connection_made ran. */
COIO_API int coio_connect_read_pipe(coio_loop_t *loop, const coio_protocol_t *proto,
                                    void *user_data, coio_pipe_t pipe, coio_future_t **out);
COIO_API int coio_connect_write_pipe(coio_loop_t *loop, const coio_protocol_t *proto,
                                     void *user_data, coio_pipe_t pipe, coio_future_t **out);

/* Windows named pipes (IOCP; COIO_ENOTSUP elsewhere), as asyncio's
 * windows_events: name is \\.\pipe\x or just x (that prefix is
 * added); UTF-8. start_serving_pipe serves it at once (*server: close it,
 * then free it, as any server): every client connection becomes a duplex
 * stream transport (can_write_eof 0), a new pipe instance waiting for the
 * next client. create_pipe_connection opens it (overlapped), retrying
 * while every instance is busy, and its future's value is the transport. */
COIO_API int coio_start_serving_pipe(coio_loop_t *loop, coio_protocol_factory_t factory,
                                     void *factory_data, const char *name,
                                     coio_server_t **server);
COIO_API int coio_create_pipe_connection(coio_loop_t *loop, const coio_protocol_t *proto,
                                         void *user_data, const char *name, coio_future_t **out);

COIO_END_DECLS

#endif /* COIO_TRANSPORT_H */
