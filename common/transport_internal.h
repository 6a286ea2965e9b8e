/* common/transport_internal.h - the transport core and the driver seam.
 *
 * What every transport shares (the write buffer and its water marks, the
 * close / abort / write_eof state machine, protocol dispatch, servers and
 * their clients, making connections) is written once in common/transport.c
 * and common/server.c. How bytes move is the driver's, one per backend
 * family, picked through the backend table (backend.h: driver):
 *   selector/transport.c  readiness: non-blocking calls when the fd is ready
 *   proactor/transport.c  completions: operations started on the socket
 *                         (proactor/proactor.h: implemented by iocp.c and
 *                         uring.c)
 *
 * Memory rule: a driver may hand the kernel pointers into the write buffer
 * (coio__transport_pending) and into its own read buffer. The core never
 * frees or moves either while the transport is referenced: the driver holds
 * a reference (coio__transport_ref) for every operation in flight and drops
 * it when that operation's completion arrives, even after a cancel. */
#ifndef COIO_COMMON_TRANSPORT_INTERNAL_H
#define COIO_COMMON_TRANSPORT_INTERNAL_H

#include "coio/task.h"
#include "coio/transport.h"

/* ---- the write buffer: a queue of fixed blocks that never move ----------- */

#define COIO__WBLOCK_SIZE (16u * 1024u)

typedef struct coio__wblock {
  struct coio__wblock *next;
  size_t start, end; /* unsent bytes are data[start, end) */
  /* datagram transports: one datagram per block, sent to addr (len 0:
   * the connected peer); a datagram larger than a block gets its own
   * larger block */
  coio_sockaddr_t addr;
  size_t cap;
  unsigned char data[1];
} coio__wblock_t;

typedef struct coio__wbuf {
  coio__wblock_t *head, *tail;
  coio__wblock_t *spare; /* kept for reuse: no allocation on a warm connection */
  size_t size;           /* unsent bytes */
  size_t nblocks;        /* queued blocks (datagrams) */
} coio__wbuf_t;

int coio__wbuf_append(coio__wbuf_t *wb, const void *data, size_t len);
int coio__wbuf_append_datagram(coio__wbuf_t *wb, const void *data, size_t len,
                               const coio_sockaddr_t *addr);
/* Up to max iovecs covering the unsent bytes from the start; their count. */
size_t coio__wbuf_iov(const coio__wbuf_t *wb, coio_buf_t *iov, size_t max);
void coio__wbuf_consume(coio__wbuf_t *wb, size_t n);
void coio__wbuf_drop_datagram(coio__wbuf_t *wb); /* the head datagram */
void coio__wbuf_free(coio__wbuf_t *wb);

/* ---- the transport ---------------------------------------------------------- */

enum {
  COIO__T_CLOSING = 1u << 0,       /* close() or abort(): no more writes */
  COIO__T_EOF_WANTED = 1u << 1,    /* write_eof() called */
  COIO__T_EOF_SENT = 1u << 2,      /* the write side is shut down */
  COIO__T_READING = 1u << 3,       /* the user wants data (not paused) */
  COIO__T_LOST = 1u << 4,          /* connection_lost scheduled or called */
  COIO__T_EOF_RECEIVED = 1u << 5,
  COIO__T_WRITE_PAUSED = 1u << 6,  /* the protocol was told pause_writing */
  COIO__T_DRIVER_CLOSED = 1u << 7, /* drv->close was called */
  COIO__T_STARTED = 1u << 8,       /* connection_made has run */
  /* Pipe transports (common/pipe_transport.c): t->fd holds a pipe end (a
   * POSIX fd, a Windows HANDLE), moved with read()/write() or the READ /
   * WRITE ops and closed with coio_pipe_close; no peer or socket name,
   * no half-close on a duplex pipe. */
  COIO__T_PIPE = 1u << 9,
  COIO__T_NO_WRITE = 1u << 10, /* a read pipe: the write calls are COIO_ENOTSUP */
  COIO__T_NO_READ = 1u << 11,  /* a write pipe: nothing is read; write_eof is close */
  /* The proactor knows t->fd already (a named-pipe instance, associated
   * for its CONNECT_PIPE: IOCP refuses a second association of a
   * non-socket handle), so attach does not associate it again. */
  COIO__T_ASSOCIATED = 1u << 12,
  /* A TLS transport (common/tls_transport.c): no half-close (write_eof is
   * COIO_ENOTSUP, can_write_eof 0) and the peer's EOF (close_notify)
   * closes it whatever eof_received answers (asyncio's sslproto). Being a
   * layer, its drv->close runs when it is lost, before connection_lost,
   * which the driver asks for with coio__transport_layer_closed once the
   * transport below is gone. */
  COIO__T_TLS = 1u << 13,
  COIO__T_QUIET_START = 1u << 14, /* start without connection_made (start_tls) */
  COIO__T_SHUTTING = 1u << 15     /* drv->shutdown was called */
};

/* A pipe end in the transport's fd field and back (same bits). */
#ifdef _WIN32
#define COIO__PIPE_OF(fd) ((coio_pipe_t)(uintptr_t)(fd))
#define COIO__FD_OF_PIPE(p) ((coio_socket_t)(uintptr_t)(p))
#else
#define COIO__PIPE_OF(fd) ((coio_pipe_t)(fd))
#define COIO__FD_OF_PIPE(p) ((coio_socket_t)(p))
#endif

typedef struct coio__driver coio__driver_t;
struct coio__sock_req; /* below: one socket call of a task */

struct coio_transport {
  coio_loop_t *loop;
  const coio__driver_t *drv;
  void *drv_data; /* the driver's per-transport state */
  int datagram;
  const coio_protocol_t *proto;
  const coio_datagram_protocol_t *dproto;
  void *user_data;
  coio_socket_t fd;
  long refs; /* the core's own until connection_lost ran, plus the driver's */
  unsigned flags;
  int lost_error;
  coio__wbuf_t wbuf;
  size_t high, low;
  struct coio_server *server; /* the server that accepted it, or NULL */
  coio_transport_t *srv_prev, *srv_next;
  /* Layered transports (TLS): below is the transport this one runs over
   * (peer and socket names come from it), above the one running over this
   * one (a server's close_clients / abort_clients act on it). The layer
   * driver keeps both pointers valid while it holds its references. */
  coio_transport_t *below, *above;
  /* Optional (NULL: none), set by a layer driver: its closing handshake
   * (TLS's close_notify). Called once, when close() was asked and the
   * buffer is flushed, instead of losing the transport at once: the driver
   * runs its handshake, then calls coio__transport_shutdown_done. An abort
   * (or a fatal error) meanwhile loses the transport as usual. (A field
   * here, not a driver entry: the backends' driver tables stay as they
   * are.) */
  void (*shutdown)(coio_transport_t *t);
};

/* ---- the driver seam ------------------------------------------------------------ */

struct coio__driver {
  /* Sets up the driver's state for t->fd (IOCP: associate the socket with
   * the port). Called once, before connection_made. */
  int (*attach)(coio_transport_t *t);
  /* The user wants data (again) / no more for now. */
  void (*read_start)(coio_transport_t *t);
  void (*read_stop)(coio_transport_t *t);
  /* Something is queued to send (bytes, a datagram, or a pending EOF with
   * an empty buffer): start sending if not already. */
  void (*write_start)(coio_transport_t *t);
  /* Stops all I/O and closes the socket (a pending write is abandoned;
   * with abort the core has not flushed). Drops the driver's references
   * as its operations end. Called once. */
  void (*close)(coio_transport_t *t);

  /* Connects fd (non-blocking, created by coio__socket_open) to addr and
   * resolves fut (a plain future of loop) with 0 or the error. */
  int (*connect)(coio_loop_t *loop, coio_socket_t fd, const coio_sockaddr_t *addr,
                 coio_future_t *fut);
  /* Starts accepting on listening socket i of s: each connection goes to
   * coio__server_accepted until listen_stop. */
  int (*listen_start)(struct coio_server *s, size_t i);
  /* Stops accepting on socket i and closes it (pending accepts are
   * cancelled; their sockets closed). */
  void (*listen_stop)(struct coio_server *s, size_t i);
  /* One socket call of a task (common/sock.c: coio_sock_*): see struct
   * coio__sock_req below. NULL: COIO_ENOTSUP. */
  int (*sock_op)(coio_loop_t *loop, struct coio__sock_req *req, coio_future_t *fut);
  /* Optional (NULL: every write is queued). A write into an empty buffer:
   * send what the kernel takes now, without blocking, and return the count
   * (0 when nothing could go, also on an error: the queued bytes' send
   * then reports it). The rest is queued as usual. Saves the copy into the
   * write buffer (asyncio's selector transports do the same). */
  long (*try_write)(coio_transport_t *t, const void *data, size_t len);
};

/* ---- one-shot socket calls of tasks (common/sock.c) ----------------------------
 *
 * sock.c fills a request and calls drv->sock_op(loop, req, fut) from the
 * calling task, with fut a new pending future of loop. Returning 0, the
 * driver has taken the request and calls coio__sock_req_done(req, result)
 * exactly once, maybe before sock_op returns (a call that needed no wait),
 * once the operation has ended: from then on neither the driver nor the
 * kernel touches req, req->buf or req->addr (the caller's memory: nothing
 * is copied, PITFALLS sections 1 and 3). An error return: nothing started,
 * req_done is never called.
 * fut is the caller's cancellation signal: the driver watches it (a done
 * callback) and, if it is cancelled before the end, stops the operation
 * (proactor: cancels the op and waits for its completion) and still calls
 * req_done, with COIO_ECANCELED or with the result the operation reached
 * anyway. The driver never completes fut itself (req_done does).
 * On a closed loop (coio_loop_is_closed) the driver calls nothing: the
 * request lived on a task stack that is gone; it only frees its own state. */
enum {
  COIO__SOCK_RECV,     /* into buf[0, len): result bytes, 0 at EOF */
  COIO__SOCK_RECVFROM, /* one datagram into buf: result bytes; addr: its source */
  COIO__SOCK_SENDALL,  /* all of buf: result 0 (progress: sent so far) */
  COIO__SOCK_SENDTO,   /* one datagram to addr: result bytes */
  COIO__SOCK_CONNECT,  /* fd to addr: result 0 */
  COIO__SOCK_ACCEPT    /* result 0; accepted (non-blocking, not inheritable), addr: peer */
};

typedef struct coio__sock_req {
  int kind; /* COIO__SOCK_* */
  coio_socket_t fd;
  void *buf;  /* the caller's; const for the sends */
  size_t len;
  coio_sockaddr_t addr;
  coio_socket_t accepted;
  size_t progress; /* SENDALL */
  coio_loop_t *loop;
  coio_future_t *fut;
  int drv_state; /* the driver's (selector: the connect was issued) */
  void *drv;     /* the driver's (proactor: its op record) */
  /* sock.c's */
  long result;
  int ended;    /* req_done was called */
  int draining; /* the task waits for the end after a cancel */
  void *task;
} coio__sock_req_t;

/* The driver's end of req (see above). */
void coio__sock_req_done(coio__sock_req_t *req, long result);

/* ---- what drivers call ------------------------------------------------------------ */

void coio__transport_ref(coio_transport_t *t);
void coio__transport_unref(coio_transport_t *t);

/* Reading. A buffered protocol supplies the memory: returns 1 with its
 * buffer (the driver reads into it and calls buffer_filled), or 0 when the
 * driver should read into its own buffer and call received. */
int coio__transport_read_buffer(coio_transport_t *t, void **buf, size_t *len);
void coio__transport_buffer_filled(coio_transport_t *t, size_t n);
void coio__transport_received(coio_transport_t *t, const void *data, size_t n);
void coio__transport_eof(coio_transport_t *t);
void coio__transport_datagram(coio_transport_t *t, const void *data, size_t n,
                              const coio_sockaddr_t *from);
/* A non-fatal error of a datagram endpoint (error_received). */
void coio__transport_datagram_error(coio_transport_t *t, int error);
/* A fatal error: the transport is aborted; connection_lost(error). */
void coio__transport_fatal(coio_transport_t *t, int error);

/* Writing. pending gives the unsent bytes as up to max iovecs (stream);
 * sent consumes n of them (water marks, close and write_eof follow). A
 * datagram driver sends the head block (t->wbuf.head) and calls
 * datagram_sent. */
size_t coio__transport_pending(coio_transport_t *t, coio_buf_t *iov, size_t max);
void coio__transport_sent(coio_transport_t *t, size_t n);
void coio__transport_datagram_sent(coio_transport_t *t);
/* 1 when the buffer is empty and write_eof was asked but not done: the
 * driver shuts the write side down, then calls eof_done. */
int coio__transport_eof_due(const coio_transport_t *t);
void coio__transport_eof_done(coio_transport_t *t);
/* The closing handshake of drv->shutdown ended: connection_lost(error)
 * follows (0: a clean close). */
void coio__transport_shutdown_done(coio_transport_t *t, int error);
/* A layer (COIO__T_TLS) lost: its drv->close ran and what was below is
 * gone; connection_lost follows. */
void coio__transport_layer_closed(coio_transport_t *t);

/* ---- servers ------------------------------------------------------------------------ */

typedef struct coio__listener {
  coio_socket_t fd;
  coio_sockaddr_t addr;
  void *drv_data;
  int active;
} coio__listener_t;

struct coio_server {
  coio_loop_t *loop;
  coio_protocol_factory_t factory;
  void *factory_data;
  coio__listener_t *listeners;
  size_t nlisteners;
  int serving, closed;
  coio_transport_t *clients; /* list of live accepted transports */
  size_t nclients;
  coio_future_t *closed_fut; /* wait_closed: done when closed and no clients */
  int backlog;
  void (*free_data)(void *factory_data); /* if set, coio_server_free calls it (streams) */
  /* Servers without listeners (Windows named pipes): called by
   * coio_server_close to stop serving; hook_data is its owner's. */
  void (*close_hook)(struct coio_server *s);
  void *hook_data;
  /* TLS (create_server with a server context): every accepted connection
   * is wrapped (common/tls_transport.c) before the factory is asked. */
  struct coio_tls_context *tls;
  double tls_handshake_timeout, tls_shutdown_timeout;
};

/* A driver accepted fd (non-blocking, not inheritable) from peer on s. */
void coio__server_accepted(struct coio_server *s, coio_socket_t fd, const coio_sockaddr_t *peer);
/* A listener failed for good (not EMFILE-like transient errors, which the
 * driver retries with a back-off). */
void coio__server_listen_error(struct coio_server *s, size_t i, int error);

/* ---- sockets, per OS (socket_posix.c / socket_win.c) ---------------------------- */

/* A non-blocking, non-inheritable socket (overlapped on Windows). */
int coio__socket_open(int family, int socktype, coio_socket_t *out);
int coio__socket_bind(coio_socket_t fd, const coio_sockaddr_t *addr);
int coio__socket_listen(coio_socket_t fd, int backlog);
int coio__socket_name(coio_socket_t fd, coio_sockaddr_t *addr);
int coio__socket_peer(coio_socket_t fd, coio_sockaddr_t *addr);
int coio__socket_set_reuse(coio_socket_t fd, int reuse_address, int reuse_port);
int coio__socket_set_v6only(coio_socket_t fd, int on);
int coio__socket_set_broadcast(coio_socket_t fd, int on);
/* Makes a socket the caller handed over (use_sock, connect_socket)
 * non-blocking, as asyncio's sock= arguments are (setblocking(False)). */
int coio__socket_set_nonblocking(coio_socket_t fd);
/* connect() for datagram sockets, which never blocks. */
int coio__socket_connect_now(coio_socket_t fd, const coio_sockaddr_t *addr);
/* SO_ERROR as a COIO_E* code. */
int coio__socket_error(coio_socket_t fd);
/* Shuts the write side down (shutdown(SHUT_WR) / shutdown(SD_SEND)): the
 * peer reads EOF once what was sent before has arrived. */
int coio__socket_shutdown_write(coio_socket_t fd);

/* connect.c: making transports, shared by every call that makes one
 * (connect.c, server-less Unix sockets, pipes, named pipes). */
/* The protocol has what a stream transport needs: 0 or COIO_EINVAL. */
int coio__check_stream_protocol(const coio_protocol_t *p);
/* Makes a transport for fd (datagram or stream, plus extra COIO__T_*
 * flags such as COIO__T_PIPE) and starts it; waiter (may be NULL) is
 * resolved after connection_made. On failure fd is still the caller's. */
int coio__transport_make(coio_loop_t *loop, coio_socket_t fd, int datagram, unsigned flags,
                         const void *proto, void *user_data, coio_future_t *waiter);
/* (task) transport_make, then waits until connection_made ran and stores
 * the transport in *result. */
int coio__adopt(coio_loop_t *loop, coio_socket_t fd, int datagram, unsigned flags,
                const void *proto, void *user_data, void **result);
/* (task) Waits for a transport made with waiter to have started
 * (connection_made ran), stores it in *result and drops waiter. 0, or
 * COIO_ECANCELED (the transport goes on; its protocol sees it). */
int coio__await_started(coio_future_t *waiter, void **result);
/* Spawns fn(req) as a task (the caller's future); free_req(req) runs when
 * the task ends, even when it is cancelled before its first step. On
 * failure req is freed already. */
int coio__spawn_req(coio_loop_t *loop, coio_task_fn fn, void *req, void (*free_req)(void *),
                    coio_future_t **out);

/* connect.c: create_connection to given addresses, in order (tests). */
int coio__create_connection_to(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                               const coio_sockaddr_t *addrs, size_t n,
                               const coio_connect_options_t *opts, coio_future_t **out);

/* transport.c / server.c, for connect.c and server.c */
coio_transport_t *coio__transport_new(coio_loop_t *loop, coio_socket_t fd, int datagram,
                                      const void *proto, void *user_data);
int coio__transport_start(coio_transport_t *t, coio_future_t *waiter);
void coio__server_client_added(coio_transport_t *t);
void coio__server_maybe_closed(struct coio_server *s);

#endif
