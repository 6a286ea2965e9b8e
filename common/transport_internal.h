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
  COIO__T_STARTED = 1u << 8        /* connection_made has run */
};

typedef struct coio__driver coio__driver_t;

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
};

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
/* connect() for datagram sockets, which never blocks. */
int coio__socket_connect_now(coio_socket_t fd, const coio_sockaddr_t *addr);
/* SO_ERROR as a COIO_E* code. */
int coio__socket_error(coio_socket_t fd);
/* Shuts the write side down (shutdown(SHUT_WR) / shutdown(SD_SEND)): the
 * peer reads EOF once what was sent before has arrived. */
int coio__socket_shutdown_write(coio_socket_t fd);

/* transport.c / server.c, for connect.c and server.c */
coio_transport_t *coio__transport_new(coio_loop_t *loop, coio_socket_t fd, int datagram,
                                      const void *proto, void *user_data);
int coio__transport_start(coio_transport_t *t, coio_future_t *waiter);
void coio__server_client_added(coio_transport_t *t);
void coio__server_maybe_closed(struct coio_server *s);

#endif
