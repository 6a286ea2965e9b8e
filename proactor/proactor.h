/* proactor/proactor.h - the completion seam of the proactor room: start an
 * operation on a socket or pipe with a buffer; its completion arrives
 * later. Implemented by iocp.c and uring.c (their backend table's
 * `proactor` entry); used by proactor/transport.c, which is written once
 * against it.
 *
 * Invariants (../shared/PITFALLS.md sections 1 and 3):
 * - After start() returns 0, op->done is called exactly once, never from
 *   inside start() (a synchronous success is delivered from the loop, as a
 *   completion), even if the operation is cancelled or its socket closed.
 * - The op record and every buffer and address it names stay valid and
 *   untouched until then: the kernel may write into them up to that
 *   moment. An op is never restarted while in flight.
 * - cancel() is a request: the op then completes with COIO_ECANCELED (or
 *   with its result, if it had already finished).
 * - done() runs on the loop thread, inside the backend's poll (the
 *   completion is dispatched there); it may start and cancel ops, the same
 *   op included.
 * - A loop closed with ops still in flight: the backend's close() cancels
 *   them and calls their done() (COIO_ECANCELED, or their result) with the
 *   loop already closed (coio_loop_is_closed): done() must then only
 *   release what it holds (references, sockets, memory) and call nothing
 *   that schedules. An op the kernel may still be writing into is left
 *   alone instead (its owner leaks rather than being freed under it). */
#ifndef COIO_PROACTOR_PROACTOR_H
#define COIO_PROACTOR_PROACTOR_H

#include "common/backend.h"
#include "common/transport_internal.h"

enum {
  COIO__OP_RECV,     /* into iov[0]; result: bytes (0: EOF) */
  COIO__OP_SEND,     /* from iov[0..niov); result: bytes sent (may be short) */
  COIO__OP_ACCEPT,   /* on a listening socket; result 0, accepted + addr set */
  COIO__OP_CONNECT,  /* fd (not bound: the backend binds it if it must) to addr */
  COIO__OP_RECVFROM, /* a datagram into iov[0]; addr receives the source */
  COIO__OP_SENDTO,   /* a datagram from iov[0..niov) to addr (len 0: connected) */
  COIO__OP_READ,     /* pipes: like RECV on a pipe handle / fd */
  COIO__OP_WRITE,    /* pipes: like SEND */
  /* Windows named pipes: ConnectNamedPipe on the server instance op->fd
   * (no buffer); result 0 once a client is connected. IOCP only: io_uring
   * answers COIO_ENOTSUP from start(). */
  COIO__OP_CONNECT_PIPE
};

#define COIO__OP_MAX_IOV 8
/* Room for the backend's per-operation state, at the start of the record
 * (IOCP: the OVERLAPPED, AcceptEx's address buffer; io_uring: a msghdr). */
#define COIO__OP_PRIV_SIZE 192

typedef struct coio__op coio__op_t;
/* result: >= 0 as described per kind, or a negative COIO_E* code. */
typedef void (*coio__op_done_fn)(coio__op_t *op, long result);

struct coio__op {
  union {
    unsigned char bytes[COIO__OP_PRIV_SIZE];
    void *align_ptr;
    uint64_t align_u64;
  } priv; /* first: the backend's */
  coio__op_done_fn done;
  void *owner; /* the starter's, e.g. its transport */
  int kind;
  int in_flight; /* set by the backend from start() until done is called */
  coio_socket_t fd;
  coio_buf_t iov[COIO__OP_MAX_IOV];
  size_t niov;
  coio_sockaddr_t addr;
  coio_socket_t accepted; /* ACCEPT: the new socket (non-blocking, not inheritable) */
};

struct coio__proactor_ops {
  /* Prepares fd for operations on this loop (IOCP: associate it with the
   * port; io_uring: nothing), before its first start. The driver may call
   * it again for a socket it already associated (connect, then attach):
   * a repeat on the same loop must succeed. */
  int (*associate)(void *bstate, coio_socket_t fd);
  /* 0, or an error (then done is not called). */
  int (*start)(void *bstate, coio__op_t *op);
  /* Best effort; see the invariants above. 0 or an error. */
  int (*cancel)(void *bstate, coio__op_t *op);
};

/* The transports' driver written against this seam (proactor/transport.c),
 * for the `driver` entry of a proactor backend's table. */
extern const struct coio__driver coio__proactor_driver;

#endif
