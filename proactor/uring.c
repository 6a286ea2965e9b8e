/* proactor/uring.c - the io_uring backend (Linux), with liburing >= 2.3.
 *
 * This file is the loop side of io_uring: the ring, the wait with a timeout,
 * the cross-thread wake-up, and readiness (add_reader/add_writer) built on
 * one-shot IORING_OP_POLL_ADD, and the completion operations of the
 * proactor seam (proactor/proactor.h: recv/send/accept/connect/recvfrom/
 * sendto/read/write into the caller's buffers, and cancel), on which
 * proactor/transport.c builds the transports.
 *
 * Traps (../shared/PITFALLS.md section 3):
 * - io_uring may be refused (EPERM under seccomp or io_uring_disabled,
 *   ENOSYS, ENOMEM before 5.12): probe() says so once and the core falls
 *   back to epoll. We need FEAT_EXT_ARG (5.11, the wait timeout uses no SQE)
 *   and FEAT_NODROP (an overflowing CQ keeps its CQEs).
 * - SINGLE_ISSUER|DEFER_TASKRUN is much faster here, but only the thread
 *   that owns the ring may submit or wait (others get -EEXIST), and
 *   completions appear only after an enter with GETEVENTS. The ring is
 *   created disabled (R_DISABLED) and enabled by the first poll, so the loop
 *   thread is the thread that first runs the loop, not the one that created
 *   it. If a later run happens on another thread, the kernel answers -EEXIST
 *   and we rebuild the ring on that thread (see rebuild()).
 * - Every SQE is prepared and submitted by poll(), on the loop thread. The
 *   other entries only record what changed: wake() writes an eventfd (it is
 *   the only thread-safe entry), io_update() queues the fd on a dirty list,
 *   op_start() and op_cancel() queue the operation (see "Operations").
 * - The wait (io_uring_submit_and_wait_timeout) submits and waits in one
 *   system call. The kernel does not wait after a partial submission, and
 *   liburing then returns the submitted count rather than -ETIME; so poll()
 *   never trusts the return code to tell whether time ran out: it drains
 *   whatever is in the CQ and decides from that and from the clock.
 *
 * Readiness: level triggered, like epoll, built from one-shot polls. Each
 * watched fd has at most ONE poll request in the kernel at any time; this is
 * the invariant that makes every CQE unambiguous (its user_data is the
 * coio__io_t pointer, which the core keeps valid until the loop is closed).
 * When a poll completes we report its events (masked by what is wanted now)
 * and queue the fd to be re-armed; the new poll is submitted at the next
 * poll(), after the callbacks have run, so data left unread is reported
 * again. When the wanted events change while a poll is in the kernel, we
 * send an IORING_OP_POLL_REMOVE for it and arm the new mask only once the
 * old poll's own CQE (-ECANCELED, or its events if it fired first) has been
 * seen. A removal is forced whenever the interest dropped to zero, even if
 * it is back to the same mask by the time we look, and the old poll's
 * events are then dropped: the user may have closed the fd in between and
 * got the same number for a new file, and the old poll would keep watching
 * (and reporting the hang-up of) the old file (PITFALLS 3: close() does not
 * cancel pending operations). Like every SQE, the removal goes out at the
 * next poll(): until then a poll still holds a reference to the file, so a
 * socket closed right after remove_reader is really closed (its peer sees
 * the FIN) only when the loop next polls, which is at once when this
 * happens in a callback.
 *
 * Operations (the completion seam, proactor.h): op_start() does not touch
 * the ring. It links the op on a FIFO of ops waiting for an SQE; the next
 * poll() prepares their SQEs (flush) and submits them with its wait, like
 * everything else. So no SQE is ever prepared outside poll(), start() works
 * before the first run (coio_server_start may be called then, when the
 * SINGLE_ISSUER ring has no owner yet), a full SQ never forces a submit from
 * a callback, and done() can never be called from inside start(). Each op's
 * user_data is its address with bit 0 set (ops are at least 8-aligned, as
 * are the coio__io_t pointers of polls, whose bit 0 is clear; the UD_*
 * constants are below 8). An op cancelled before its SQE was prepared never
 * reaches the kernel: it is completed with COIO_ECANCELED by the next poll
 * (which then does not block). Otherwise the cancel is an
 * IORING_OP_ASYNC_CANCEL keyed by that user_data, prepared at the next poll;
 * the op's memory stays the kernel's until the op's OWN CQE (PITFALLS 3:
 * not the cancel's). The backend's per-op state (the msghdr, the accept
 * address length, list links) lives in op->priv; the iovecs are the op's own
 * coio_buf_t array, which has struct iovec's layout (checked below). Every op
 * in flight is on a list, so that a rebuilt ring can take them over and a
 * closing loop can end them (ur_close). */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liburing.h>

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/backend.h"
#include "common/error_internal.h"
#include "common/wakefd_linux.h"
#include "proactor/proactor.h"

/* The SQ is a staging area: a full SQ is submitted and reused, so it can be
 * small. The CQ must absorb a burst of completions between two drains (one
 * per armed poll or op in flight, plus failed removals and cancels); with
 * FEAT_NODROP an overflow is kept by the kernel and flushed later, so this
 * is about speed, not correctness. 4096 leaves ample headroom for the
 * transports' two ops per connection at a few hundred busy connections
 * between two polls; past that, overflow costs a flush, not a CQE. */
#define SQ_ENTRIES 256u
#define CQ_ENTRIES 4096u

/* How long poll() may block when the kernel refused SQEs (see ur_poll). */
#define FLUSH_RETRY_NS 1000000

/* Flags tried first, then FALLBACK_FLAGS when the kernel says EINVAL (older
 * than 6.1). SUBMIT_ALL: one bad SQE (a poll on a closed fd) must not stop
 * the rest of the batch. */
#define PREFERRED_FLAGS                                                                       \
  (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |        \
   IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP)
#define FALLBACK_FLAGS (IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP)

/* user_data of the requests that are not polls for a coio__io_t (whose
 * pointer, at least 8-aligned, is never one of these values). */
#define UD_NONE 0u   /* never submitted; ignored if seen */
#define UD_IGNORE 1u /* POLL_REMOVE: its own result does not matter */
#define UD_WAKE 2u   /* the read (or poll) on the wake-up eventfd */
/* An op's user_data is (uintptr_t)op | UD_OP (see the top of the file);
 * the poll linked in front of a retried op (see op_finish) is
 * (uintptr_t)op | UD_OP_POLL. */
#define UD_OP 1u
#define UD_OP_POLL 3u
#define UD_IS_OP(ud) (((ud)&7u) == UD_OP && (ud) > 7u)
#define UD_IS_OP_POLL(ud) (((ud)&7u) == UD_OP_POLL && (ud) > 7u)

/* io->armed bits. The low two bits are the COIO__READABLE|COIO__WRITABLE
 * mask of the poll in the kernel. io->bdata is not used. */
enum {
  A_MASK = COIO__READABLE | COIO__WRITABLE,
  A_INFLIGHT = 4, /* a POLL_ADD was prepared and its CQE not seen yet */
  A_CANCEL = 8,   /* a POLL_REMOVE for that poll was prepared */
  A_STALE = 16,   /* interest fell to 0 since that poll was armed: the poll
                   * must go and its events are not reported, even if a new
                   * watch wants the same events (it may be another file) */
  A_QUEUED = 32,  /* on the dirty list */
  A_KNOWN = 64    /* in the known list */
};

/* What this backend keeps in op->priv. */
typedef struct uop {
  struct msghdr msg; /* SENDMSG / RECVMSG: names op->iov and op->addr */
  socklen_t addrlen; /* ACCEPT: the kernel writes the peer's length here */
  unsigned state;    /* U_* */
  coio__op_t *qnext; /* the FIFO of ops waiting for an SQE, or the local list */
  coio__op_t *prev, *next; /* every op started and not completed */
  long local_res;          /* completed without the kernel: the result */
} uop_t;

enum {
  U_START = 1,     /* queued: its SQE is still to be prepared */
  U_KERNEL = 2,    /* its SQE was prepared: the kernel owns the op */
  U_CANCEL = 4,    /* cancel() was called */
  U_CANCEL_Q = 8,  /* queued: its ASYNC_CANCEL is still to be prepared */
  U_QUEUED = 16,   /* on the SQE FIFO */
  U_LOCAL = 32,    /* on the local completion list */
  U_POLL_FIRST = 64, /* retried after -EAGAIN: a linked poll goes first */
  U_NOSIGNAL = 128   /* a WRITE issued with RWF_NOSIGNAL */
};

/* pwritev2's "no SIGPIPE" (Linux 6.15; liburing 2.3's headers predate it):
 * a WRITE to a pipe whose reader is gone then ends with -EPIPE instead of
 * killing the process (observed here: without it, exit status 141). Older
 * kernels refuse the flag with -EOPNOTSUPP: then the op is issued again
 * without it, and the flag is not used on this ring any more. */
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif

_Static_assert(sizeof(uop_t) <= COIO__OP_PRIV_SIZE, "uop_t must fit in coio__op_t.priv");
/* op->iov goes to the kernel as a struct iovec array. */
_Static_assert(sizeof(coio_buf_t) == sizeof(struct iovec) &&
                   offsetof(coio_buf_t, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(coio_buf_t, len) == offsetof(struct iovec, iov_len),
               "coio_buf_t must have the layout of struct iovec");

#define UOP(op) ((uop_t *)(void *)(op)->priv.bytes)

typedef struct uring_state {
  coio_loop_t *loop;
  struct io_uring ring;
  unsigned setup_flags; /* what the ring was created with */
  int enabled;          /* R_DISABLED rings: enabled by the loop thread */
  int cqe_skip;         /* FEAT_CQE_SKIP: successful removals post no CQE */

  /* Wake-up: an eventfd with a READ armed on it (into wake_sink). */
  int wakefd;
  int wake_inflight;
  int wake_poll; /* fallback: POLL_ADD + read(2), if the READ cannot park */

  /* Every io this backend has seen (for rebuild), and the ios whose kernel
   * state must be brought in line with their interest at the next poll.
   * Both arrays have room for every known io, so queueing never allocates
   * (an io is on the dirty list at most once: A_QUEUED). */
  coio__io_t **known;
  coio__io_t **dirty;
  size_t nknown, ndirty, cap;

  /* Operations: the FIFO of ops waiting for an SQE (a start or a cancel),
   * the ops completed without the kernel (cancelled before their SQE was
   * made), and every op in flight. */
  coio__op_t *q_head, *q_tail;
  coio__op_t *local_head, *local_tail;
  coio__op_t *live;
  size_t nlive;
  int closing; /* ur_close: no more ops */
  int no_nosignal; /* the kernel refused RWF_NOSIGNAL */
} uring_state_t;

/* Where the wake-up READs put the eventfd's counter. The value is never
 * looked at, so every loop shares this one static buffer: it outlives any
 * request, and the question of when the kernel is done with a cancelled
 * READ's buffer (PITFALLS 3: buffers live until the target's CQE) does not
 * arise, not even at close or rebuild, which never see those CQEs. */
static uint64_t wake_sink;

/* ---- probe ------------------------------------------------------------- */

/* 0: not probed yet; 1: usable; -1: not usable here (a lasting answer).
 * Concurrent first probes just probe twice and store the same answer. */
static atomic_int probe_state;

static int probe_ring(struct io_uring *ring, unsigned features) {
  struct io_uring_probe *p;
  int ok;
  if (!(features & IORING_FEAT_EXT_ARG) || !(features & IORING_FEAT_NODROP))
    return 0;
  p = io_uring_get_probe_ring(ring);
  if (!p)
    return 0;
  ok = io_uring_opcode_supported(p, IORING_OP_POLL_ADD) &&
       io_uring_opcode_supported(p, IORING_OP_POLL_REMOVE) &&
       io_uring_opcode_supported(p, IORING_OP_READ);
  io_uring_free_probe(p);
  return ok;
}

static int ur_probe(void) {
  struct io_uring ring;
  struct io_uring_params params;
  int st = atomic_load(&probe_state), rc, ok;
  if (st != 0)
    return st > 0 ? 0 : COIO_ENOBACKEND;
  memset(&params, 0, sizeof params);
  rc = io_uring_queue_init_params(4, &ring, &params);
  if (rc < 0) {
    /* Running out of fds or memory says nothing lasting about io_uring:
     * do not cache it. (ENOMEM is also the pre-5.12 memlock limit.) */
    if (rc == -EMFILE || rc == -ENFILE)
      return coio__err_from_errno(-rc);
    if (rc != -ENOMEM)
      atomic_store(&probe_state, -1);
    return COIO_ENOBACKEND;
  }
  ok = probe_ring(&ring, params.features);
  io_uring_queue_exit(&ring);
  atomic_store(&probe_state, ok ? 1 : -1);
  return ok ? 0 : COIO_ENOBACKEND;
}

/* ---- ring setup ---------------------------------------------------------- */

static int ring_init(struct io_uring *ring, unsigned flags) {
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  params.flags = flags;
  params.cq_entries = CQ_ENTRIES;
  return io_uring_queue_init_params(SQ_ENTRIES, ring, &params);
}

/* Makes the calling thread the ring's owner (SINGLE_ISSUER). liburing 2.3
 * declares io_uring_enable_rings but its library does not export it (2.4
 * does), so register the opcode directly; like liburing, this returns
 * -errno. */
static int ring_enable(uring_state_t *s) {
  if (s->setup_flags & IORING_SETUP_R_DISABLED) {
    int rc = io_uring_register((unsigned)s->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
    if (rc < 0)
      return coio__err_from_errno(-rc);
  }
  s->enabled = 1;
  return 0;
}

static int ur_open(coio_loop_t *loop, void **out) {
  int rc;
  uring_state_t *s = calloc(1, sizeof *s);
  if (!s)
    return COIO_ENOMEM;
  s->loop = loop;
  if ((rc = coio__wakefd_open(&s->wakefd)) != 0) {
    free(s);
    return rc;
  }
  s->setup_flags = PREFERRED_FLAGS;
  rc = ring_init(&s->ring, s->setup_flags);
  if (rc == -EINVAL) {
    s->setup_flags = FALLBACK_FLAGS;
    rc = ring_init(&s->ring, s->setup_flags);
  }
  if (rc == 0 && !(s->ring.features & IORING_FEAT_EXT_ARG)) {
    io_uring_queue_exit(&s->ring);
    rc = -ENOSYS; /* probe() refuses such kernels; be safe if asked directly */
  }
  if (rc < 0) {
    close(s->wakefd);
    free(s);
    return rc == -EPERM || rc == -ENOSYS ? COIO_ENOBACKEND : coio__err_from_errno(-rc);
  }
  s->cqe_skip = (s->ring.features & IORING_FEAT_CQE_SKIP) != 0;
  /* Not enabled here: the thread that runs the loop enables it. */
  s->enabled = !(s->setup_flags & IORING_SETUP_R_DISABLED);
  *out = s;
  return 0;
}

static void end_ops(uring_state_t *s);

static void ur_close(void *state) {
  uring_state_t *s = state;
  /* Operations still in flight name memory of their owners: they are ended
   * first (end_ops). Then tearing the ring down cancels what is left, and
   * none of that holds memory of ours: the polls hold none, the wake-up
   * READ writes into the static wake_sink. */
  end_ops(s);
  io_uring_queue_exit(&s->ring);
  close(s->wakefd);
  free(s->known);
  free(s->dirty);
  free(s);
}

static void ur_wake(void *state) { coio__wakefd_signal(((uring_state_t *)state)->wakefd); }

/* ---- preparing requests (loop thread, inside poll) ------------------------ */

static void queue_io(uring_state_t *s, coio__io_t *io) {
  if (io->armed & A_QUEUED)
    return;
  io->armed |= A_QUEUED;
  s->dirty[s->ndirty++] = io; /* room reserved when io became known */
}

/* An SQE, submitting what is queued if the SQ is full. NULL with *err set
 * (-errno of the submit, or -EAGAIN) if none can be had now. */
static struct io_uring_sqe *get_sqe(uring_state_t *s, int *err) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
  if (!sqe) {
    int rc = io_uring_submit(&s->ring);
    if (rc < 0) {
      *err = rc;
      return NULL;
    }
    sqe = io_uring_get_sqe(&s->ring);
    if (!sqe)
      *err = -EAGAIN;
  }
  return sqe;
}

static unsigned poll_mask(unsigned interest) {
  unsigned m = 0;
  if (interest & COIO__READABLE)
    m |= POLLIN;
  if (interest & COIO__WRITABLE)
    m |= POLLOUT;
  return m; /* POLLERR and POLLHUP are always reported */
}

/* Brings io's kernel state in line with io->interest (see the invariant at
 * the top: at most one poll per io, a new one only after the old one's CQE).
 * Returns 0, or -errno if no SQE could be had (io stays as it was). */
static int sync_io(uring_state_t *s, coio__io_t *io) {
  unsigned want = io->interest & A_MASK;
  struct io_uring_sqe *sqe;
  int err = 0;
  if (io->armed & A_INFLIGHT) {
    /* Keep the poll if it asks for the right events and the watch was not
     * dropped meanwhile. If a removal is already on its way, the poll's
     * CQE will bring us back here. */
    if ((io->armed & A_CANCEL) || (!(io->armed & A_STALE) && (io->armed & A_MASK) == want))
      return 0;
    if (!(sqe = get_sqe(s, &err)))
      return err;
    io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)io);
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    /* Its result (0, -ENOENT if the poll already fired, -EALREADY) does
     * not matter: the poll's own CQE comes in every case. */
    if (s->cqe_skip)
      io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
    io->armed |= A_CANCEL;
    return 0;
  }
  if (!want)
    return 0;
  if (!(sqe = get_sqe(s, &err)))
    return err;
  io_uring_prep_poll_add(sqe, io->fd, poll_mask(want));
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)io);
  io->armed = (io->armed & ~(unsigned)A_MASK) | want | A_INFLIGHT;
  return 0;
}

/* ---- operations: queueing and preparing their SQEs ------------------------ */

static void op_enqueue(uring_state_t *s, coio__op_t *op) {
  uop_t *u = UOP(op);
  if (u->state & U_QUEUED)
    return;
  u->state |= U_QUEUED;
  u->qnext = NULL;
  if (s->q_tail)
    UOP(s->q_tail)->qnext = op;
  else
    s->q_head = op;
  s->q_tail = op;
}

/* op ends without (more of) the kernel: it is completed with res by the
 * next drain. Only for an op the kernel does not hold (not U_KERNEL) and
 * not on the FIFO, whose link the local list shares. */
static void op_local(uring_state_t *s, coio__op_t *op, long res) {
  uop_t *u = UOP(op);
  u->state = (u->state & ~(unsigned)(U_START | U_CANCEL_Q)) | U_LOCAL;
  u->local_res = res;
  u->qnext = NULL;
  if (s->local_tail)
    UOP(s->local_tail)->qnext = op;
  else
    s->local_head = op;
  s->local_tail = op;
}

static void live_unlink(uring_state_t *s, coio__op_t *op) {
  uop_t *u = UOP(op);
  if (u->prev)
    UOP(u->prev)->next = u->next;
  else
    s->live = u->next;
  if (u->next)
    UOP(u->next)->prev = u->prev;
  u->prev = u->next = NULL;
  s->nlive--;
}

static void *mut(const void *p) { return (void *)(uintptr_t)p; }

/* The SQE for op. Its msghdr is rebuilt each time, so an op taken over by a
 * rebuilt ring is prepared again from the record alone. */
static void prep_op(uring_state_t *s, struct io_uring_sqe *sqe, coio__op_t *op) {
  uop_t *u = UOP(op);
  struct iovec *iov = (struct iovec *)(void *)op->iov;
  int fd = (int)op->fd;
  unsigned len0 = op->iov[0].len > UINT32_MAX ? UINT32_MAX : (unsigned)op->iov[0].len;
  switch (op->kind) {
  case COIO__OP_RECV:
    io_uring_prep_recv(sqe, fd, mut(op->iov[0].base), op->iov[0].len, 0);
    break;
  case COIO__OP_SEND:
    /* MSG_NOSIGNAL: a peer that reset gives EPIPE, not SIGPIPE. */
    if (op->niov == 1) {
      io_uring_prep_send(sqe, fd, op->iov[0].base, op->iov[0].len, MSG_NOSIGNAL);
      break;
    }
    memset(&u->msg, 0, sizeof u->msg);
    u->msg.msg_iov = iov;
    u->msg.msg_iovlen = op->niov;
    io_uring_prep_sendmsg(sqe, fd, &u->msg, MSG_NOSIGNAL);
    break;
  case COIO__OP_ACCEPT:
    /* accept4(SOCK_NONBLOCK | SOCK_CLOEXEC): never inherited, never a
     * window where another thread's fork could inherit it. */
    u->addrlen = (socklen_t)sizeof op->addr.u.bytes;
    io_uring_prep_accept(sqe, fd, (struct sockaddr *)(void *)op->addr.u.bytes, &u->addrlen,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
    break;
  case COIO__OP_CONNECT:
    io_uring_prep_connect(sqe, fd, (const struct sockaddr *)(const void *)op->addr.u.bytes,
                          (socklen_t)op->addr.len);
    break;
  case COIO__OP_RECVFROM:
    memset(&u->msg, 0, sizeof u->msg);
    u->msg.msg_name = op->addr.u.bytes;
    u->msg.msg_namelen = (socklen_t)sizeof op->addr.u.bytes;
    u->msg.msg_iov = iov;
    u->msg.msg_iovlen = op->niov;
    io_uring_prep_recvmsg(sqe, fd, &u->msg, 0);
    break;
  case COIO__OP_SENDTO:
    memset(&u->msg, 0, sizeof u->msg);
    if (op->addr.len) {
      u->msg.msg_name = op->addr.u.bytes;
      u->msg.msg_namelen = (socklen_t)op->addr.len;
    }
    u->msg.msg_iov = iov;
    u->msg.msg_iovlen = op->niov;
    io_uring_prep_sendmsg(sqe, fd, &u->msg, MSG_NOSIGNAL);
    break;
  case COIO__OP_READ:
    /* Offset -1: the file position (pipes have none; FEAT_RW_CUR_POS). */
    if (op->niov == 1)
      io_uring_prep_read(sqe, fd, mut(op->iov[0].base), len0, (uint64_t)-1);
    else
      io_uring_prep_readv(sqe, fd, iov, (unsigned)op->niov, (uint64_t)-1);
    break;
  default: /* COIO__OP_WRITE (start() checked the kind) */
    if (op->niov == 1)
      io_uring_prep_write(sqe, fd, op->iov[0].base, len0, (uint64_t)-1);
    else
      io_uring_prep_writev(sqe, fd, iov, (unsigned)op->niov, (uint64_t)-1);
    /* A pipe whose reader is gone raises SIGPIPE (write() has no
     * MSG_NOSIGNAL): RWF_NOSIGNAL where the kernel has it, see above. */
    if (!s->no_nosignal) {
      sqe->rw_flags |= RWF_NOSIGNAL;
      u->state |= U_NOSIGNAL;
    } else {
      u->state &= ~(unsigned)U_NOSIGNAL;
    }
    break;
  }
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | UD_OP);
}

/* Prepares the SQEs of the queued ops, in order: a start, or the
 * ASYNC_CANCEL of an op the kernel holds. An op cancelled before its SQE was
 * made goes to the local list instead: the kernel never sees it. On failure
 * (no SQE), the rest stays queued. */
static int flush_ops(uring_state_t *s) {
  while (s->q_head) {
    coio__op_t *op = s->q_head;
    uop_t *u = UOP(op);
    struct io_uring_sqe *sqe = NULL;
    int err = 0;
    if (((u->state & U_START) && !(u->state & U_CANCEL)) || (u->state & U_CANCEL_Q)) {
      /* A linked pair (poll, op) must go out in one submission: a link
       * cut at a submission's end would run the op unlinked. */
      if ((u->state & U_POLL_FIRST) && io_uring_sq_space_left(&s->ring) < 2 &&
          (err = io_uring_submit(&s->ring)) < 0)
        return err; /* (a cancel pair needs two SQEs too, unlinked) */
      if (!(sqe = get_sqe(s, &err)))
        return err;
    }
    s->q_head = u->qnext;
    if (!s->q_head)
      s->q_tail = NULL;
    u->qnext = NULL;
    u->state &= ~(unsigned)U_QUEUED;
    if (u->state & U_START) {
      if (u->state & U_CANCEL) {
        op_local(s, op, COIO_ECANCELED);
        continue;
      }
      if (u->state & U_POLL_FIRST) {
        /* The op's SQE follows in the same submission (room was made
         * above). If the poll ends in error (cancelled), the op ends with
         * -ECANCELED without running; the poll's own CQE is dropped. No
         * IOSQE_CQE_SKIP_SUCCESS on the poll: on a link head, the kernel
         * then also skips the CQEs of the links it fails, and the op would
         * end without a CQE (seen here on 6.18). */
        unsigned mask = op->kind == COIO__OP_SEND || op->kind == COIO__OP_SENDTO ||
                                op->kind == COIO__OP_WRITE
                            ? POLLOUT
                            : POLLIN;
        struct io_uring_sqe *next = io_uring_get_sqe(&s->ring);
        if (next) { /* (always: room was made above; else the op goes alone) */
          io_uring_prep_poll_add(sqe, (int)op->fd, mask);
          io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op | UD_OP_POLL);
          io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
          sqe = next;
        }
      }
      prep_op(s, sqe, op);
      u->state = (u->state & ~(unsigned)U_START) | U_KERNEL;
    } else if (u->state & U_CANCEL_Q) {
      /* Keyed by the op's user_data. Its own result (0, -ENOENT if the op
       * just completed, -EALREADY if it is running) does not matter: the
       * op's own CQE comes in every case, and only then is its memory ours
       * again. */
      io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op | UD_OP, 0);
      io_uring_sqe_set_data64(sqe, UD_IGNORE);
      if (s->cqe_skip)
        io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
      /* An op waiting behind its linked poll is in no list the cancel
       * searches: cancelling the poll ends the pair (the op then ends with
       * -ECANCELED). Room for this second SQE was made above. */
      if ((u->state & U_POLL_FIRST) && (sqe = io_uring_get_sqe(&s->ring)) != NULL) {
        io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op | UD_OP_POLL, 0);
        io_uring_sqe_set_data64(sqe, UD_IGNORE);
        if (s->cqe_skip)
          io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
      }
      u->state &= ~(unsigned)U_CANCEL_Q;
    }
  }
  return 0;
}

/* Prepares the wake-up request and every queued io. On failure (no SQE could
 * be had), what was not done stays queued for the next poll. */
static int flush(uring_state_t *s) {
  size_t i;
  int rc = 0;
  if (!s->wake_inflight) {
    struct io_uring_sqe *sqe = get_sqe(s, &rc);
    if (!sqe)
      return rc;
    if (s->wake_poll)
      io_uring_prep_poll_add(sqe, s->wakefd, POLLIN);
    else
      io_uring_prep_read(sqe, s->wakefd, &wake_sink, sizeof wake_sink, 0);
    io_uring_sqe_set_data64(sqe, UD_WAKE);
    s->wake_inflight = 1;
  }
  for (i = 0; i < s->ndirty; i++) {
    if ((rc = sync_io(s, s->dirty[i])) != 0)
      break;
    s->dirty[i]->armed &= ~(unsigned)A_QUEUED;
  }
  if (i > 0) {
    memmove(s->dirty, s->dirty + i, (s->ndirty - i) * sizeof *s->dirty);
    s->ndirty -= i;
  }
  if (rc == 0)
    rc = flush_ops(s);
  return rc;
}

/* ---- completions ------------------------------------------------------------ */

static unsigned events_from_revents(unsigned revents) {
  unsigned ev = 0;
  if (revents & (POLLIN | POLLPRI | POLLRDHUP))
    ev |= COIO__READABLE;
  if (revents & POLLOUT)
    ev |= COIO__WRITABLE;
  if (revents & (POLLERR | POLLHUP | POLLNVAL)) /* both sides: their call sees the error */
    ev |= COIO__READABLE | COIO__WRITABLE;
  return ev;
}

/* The CQE of io's one poll. Returns 1 if something was reported. */
static int on_poll_cqe(uring_state_t *s, coio__io_t *io, int res) {
  unsigned ev = 0;
  /* A stale poll's events (the hang-up of a file closed after
   * remove_reader, say) are not the current watch's: drop them; the new
   * poll armed below finds whatever is true now. */
  int stale = (io->armed & A_STALE) != 0;
  io->armed &= ~(unsigned)(A_MASK | A_INFLIGHT | A_CANCEL | A_STALE);
  if (stale)
    ev = 0;
  else if (res > 0)
    ev = events_from_revents((unsigned)res);
  else if (res < 0 && res != -ECANCELED)
    /* The poll could not be armed (-EBADF: the fd was closed before the
     * poll was submitted). Wake both sides so that their own system call
     * sees the error, as epoll does with EPOLLERR; the watch stays. */
    ev = COIO__READABLE | COIO__WRITABLE;
  /* Only what is still wanted: the interest may have changed since this
   * poll was armed (its removal may have lost the race with the event). */
  ev &= io->interest;
  if (ev)
    coio__loop_io_ready(s->loop, io, ev);
  /* Re-armed at the next poll(), i.e. after the callbacks ran: level
   * triggered. */
  if (io->interest)
    queue_io(s, io);
  return ev != 0;
}

/* The CQE of the wake-up request. Returns 0 or a COIO_E* code. */
static int on_wake_cqe(uring_state_t *s, int res) {
  s->wake_inflight = 0;
  if (!s->wake_poll) {
    /* res is 8 (the counter was read and reset). A kernel that cannot park
     * a READ on a non-blocking eventfd answers -EAGAIN at once: switch to a
     * poll plus read(2) rather than spin. */
    if (res < 0)
      s->wake_poll = 1;
    return 0;
  }
  if (res < 0)
    return coio__err_from_errno(-res);
  coio__wakefd_drain(s->wakefd);
  return 0;
}

/* The end of op: its result converted for the seam, then its done(). From
 * here on the op and its memory are the owner's again (done may free them,
 * or start the op anew), so nothing touches op after the call. */
static void op_finish(uring_state_t *s, coio__op_t *op, long res) {
  uop_t *u = UOP(op);
  long result = res;
  if (res == -EAGAIN && op->kind != COIO__OP_CONNECT && !(u->state & (U_CANCEL | U_LOCAL)) &&
      !s->closing) {
    /* Not an answer for the owner: the op is issued again, behind a
     * one-shot poll linked in front of it (flush_ops), so it runs when the
     * socket is ready and a kernel that keeps answering -EAGAIN cannot
     * make us spin. Why it happens: io_uring first tries an op without
     * blocking and then waits with an internal poll; when that poll fires
     * but the retry still finds nothing, it hands the op to a worker
     * thread, which makes a blocking call. SENDMSG and RECVMSG (and
     * accept, and read/write on pipes) honour the file's O_NONBLOCK there,
     * and our sockets are non-blocking (the core makes them so, for every
     * backend), so the worker gets -EAGAIN and io_uring reports it. Seen
     * here with a 64 MiB echo: a SENDMSG of 8 iovecs ended with -EAGAIN.
     * (CONNECT's -EAGAIN means "no local port left": a real error.) */
    u->state = U_START | U_POLL_FIRST;
    op_enqueue(s, op);
    return;
  }
  if (res == -EOPNOTSUPP && (u->state & U_NOSIGNAL) && !(u->state & U_CANCEL) && !s->closing) {
    s->no_nosignal = 1; /* an older kernel: again, without the flag */
    u->state = U_START;
    op_enqueue(s, op);
    return;
  }
  if (res >= 0) {
    switch (op->kind) {
    case COIO__OP_ACCEPT:
      op->accepted = (coio_socket_t)res;
      op->addr.len = u->addrlen <= sizeof op->addr.u.bytes ? (uint32_t)u->addrlen : 0;
      result = 0;
      break;
    case COIO__OP_RECVFROM: /* the kernel wrote the sender's length back */
      op->addr.len = u->msg.msg_namelen <= sizeof op->addr.u.bytes ? (uint32_t)u->msg.msg_namelen
                                                                     : 0;
      break;
    case COIO__OP_CONNECT:
      result = 0;
      break;
    default:
      break;
    }
  } else if (res == -ECANCELED || ((res == -EINTR || res == -EAGAIN) && (u->state & U_CANCEL))) {
    /* A cancelled op that was blocked in a worker may end with -EINTR. */
    result = COIO_ECANCELED;
  } else if (res < 0 && res > -4096) {
    result = coio__err_from_errno((int)-res);
  } /* else: already a COIO_E* code (a local completion) */
  live_unlink(s, op);
  u->state = 0;
  op->in_flight = 0;
  op->done(op, result);
}

/* Completes the ops on the local list (cancelled before the kernel saw
 * them), including those that the done() calls add. Returns how many. */
static unsigned run_local(uring_state_t *s) {
  unsigned n = 0;
  while (s->local_head) {
    coio__op_t *op = s->local_head;
    uop_t *u = UOP(op);
    s->local_head = u->qnext;
    if (!s->local_head)
      s->local_tail = NULL;
    u->qnext = NULL;
    op_finish(s, op, u->local_res);
    n++;
  }
  return n;
}

/* Handles the CQEs present now, as one batch (io_uring_for_each_cqe, one
 * io_uring_cq_advance). The batch is bounded by what was there at the start:
 * without DEFER_TASKRUN the kernel may keep appending while we read.
 * Handlers never submit (re-arms go to the dirty list, ops started or
 * cancelled by done() go to the op FIFO), so nothing we do here adds CQEs.
 * An op's done() runs right here, inside poll (as IOCP's dispatch does):
 * this is the completion, and the driver calls the protocol from it. *seen
 * counts the CQEs, *wanted is set if the core has something to do (events
 * reported, an op completed, or a wake-up). */
static int drain(uring_state_t *s, unsigned *seen, int *wanted) {
  int round, err = 0;
  for (round = 0; round < 4; round++) {
    struct io_uring_cqe *cqe;
    unsigned head, n = 0, limit = io_uring_cq_ready(&s->ring);
    if (limit > 0) {
      io_uring_for_each_cqe(&s->ring, head, cqe) {
        uint64_t ud = cqe->user_data;
        if (ud == UD_WAKE) {
          int rc = on_wake_cqe(s, cqe->res);
          if (rc && !err)
            err = rc;
          *wanted = 1;
        } else if (UD_IS_OP(ud)) {
          op_finish(s, (coio__op_t *)(uintptr_t)(ud & ~(uint64_t)UD_OP), cqe->res);
          *wanted = 1;
        } else if (ud != UD_IGNORE && ud != UD_NONE && !UD_IS_OP_POLL(ud)) {
          /* (an op's linked poll: its result is the op's business) */
          if (on_poll_cqe(s, (coio__io_t *)(uintptr_t)ud, cqe->res))
            *wanted = 1;
        }
        if (++n == limit)
          break;
      }
      io_uring_cq_advance(&s->ring, n);
      *seen += n;
    }
    /* CQ overflowed (FEAT_NODROP kept the CQEs in the kernel): have them
     * moved into the ring and take them too. */
    if (!io_uring_cq_has_overflow(&s->ring))
      break;
    (void)io_uring_get_events(&s->ring);
  }
  if (run_local(s) > 0)
    *wanted = 1;
  return err;
}

/* ---- the ring changed hands ---------------------------------------------- */

/* The loop runs on a thread that does not own the SINGLE_ISSUER ring (an
 * earlier run was on another thread): the kernel refuses every submit and
 * wait with -EEXIST and there is no way to hand the ring over. Make a new
 * ring on this thread and arm everything again from the interests. Nothing
 * is lost: readiness is level triggered, and the eventfd keeps its count.
 * Tearing down the old ring cancels its requests without any CQE for us. */
static int rebuild(uring_state_t *s) {
  struct io_uring fresh;
  struct io_uring_cqe *cqe;
  coio__op_t *op;
  unsigned head, n = 0;
  size_t i;
  int rc = ring_init(&fresh, s->setup_flags);
  if (rc < 0)
    return coio__err_from_errno(-rc);
  /* Operations are not level triggered: an op's CQE already posted by the
   * old ring is a result we must not lose (bytes received, a connection
   * accepted). Posted CQEs sit in memory we can read from any thread, so
   * take them now (only the ops': polls are re-armed from the interests
   * below). What the old ring still held as deferred work (DEFER_TASKRUN
   * runs it only for its owner) is not done when the ring is torn down: a
   * request whose task work runs at teardown, from a kernel thread, ends
   * with -ECANCELED without moving data. (A CQE that overflowed into the
   * kernel's list can only be fetched by the owner: that is the one case
   * this cannot recover.) */
  io_uring_for_each_cqe(&s->ring, head, cqe) {
    if (UD_IS_OP(cqe->user_data))
      op_finish(s, (coio__op_t *)(uintptr_t)(cqe->user_data & ~(uint64_t)UD_OP), cqe->res);
    n++;
  }
  io_uring_cq_advance(&s->ring, n);
  io_uring_queue_exit(&s->ring);
  /* The ops the old ring still held were cancelled with it: start them
   * again on the new ring (a cancel asked for meanwhile completes them with
   * COIO_ECANCELED instead, in flush_ops). */
  for (op = s->live; op; op = UOP(op)->next) {
    uop_t *u = UOP(op);
    if (u->state & U_KERNEL) {
      u->state = (u->state & ~(unsigned)(U_KERNEL | U_CANCEL_Q)) | U_START;
      op_enqueue(s, op);
    }
  }
  s->ring = fresh; /* struct io_uring holds no pointer to itself */
  s->enabled = 0;
  s->wake_inflight = 0;
  s->ndirty = 0;
  for (i = 0; i < s->nknown; i++) {
    coio__io_t *io = s->known[i];
    io->armed = A_KNOWN;
    if (io->interest)
      queue_io(s, io);
  }
  return ring_enable(s);
}

/* ---- poll ------------------------------------------------------------------ */

/* Errors of the submit-and-wait that only mean "nothing now". */
static int transient(int rc) {
  return rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc == -ENOMEM;
}

/* One submit-and-wait: submits what flush() prepared and waits up to wait_ns
 * (< 0: no limit, 0: not at all) for one CQE. Returns what liburing
 * returned: >= 0 or -errno. */
static int submit_and_wait(uring_state_t *s, int64_t wait_ns) {
  struct io_uring_cqe *cqe;
  struct __kernel_timespec ts;
  if (wait_ns == 0) /* also runs the deferred task work: DEFER_TASKRUN posts CQEs only then */
    return io_uring_submit_and_get_events(&s->ring);
  if (wait_ns < 0)
    return io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, NULL, NULL);
  ts.tv_sec = wait_ns / 1000000000;
  ts.tv_nsec = wait_ns % 1000000000;
  return io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
}

static int ur_poll(void *state, int64_t timeout_ns) {
  uring_state_t *s = state;
  uint64_t deadline = 0;
  int rc, rebuilt = 0;
  if (!s->enabled && (rc = ring_enable(s)) != 0)
    return rc;
  if (timeout_ns > 0)
    deadline = coio__now_ns() + (uint64_t)timeout_ns;
  for (;;) {
    int64_t wait_ns = timeout_ns;
    unsigned seen = 0;
    int wanted = 0;

    rc = flush(s);
    if (s->local_head) /* ops completed without the kernel: report them now */
      wait_ns = 0;
    if (rc != 0 && transient(rc) && (wait_ns < 0 || wait_ns > FLUSH_RETRY_NS))
      /* The kernel refused SQEs for now (memory, a CQ overflow it could
       * not flush): what was not prepared stays queued, maybe the wake-up
       * READ too, so do not block for long; take the completions that free
       * the kernel's resources, and try again soon. */
      wait_ns = FLUSH_RETRY_NS;
    if (rc == 0 || transient(rc))
      rc = submit_and_wait(s, wait_ns);
    if (rc == -EEXIST && !rebuilt) {
      if ((rc = rebuild(s)) != 0)
        return rc;
      rebuilt = 1;
      continue;
    }
    if (rc < 0 && !transient(rc))
      return coio__err_from_errno(-rc);
    if ((rc = drain(s, &seen, &wanted)) != 0)
      return rc;
    /* Return when the core has work, when we must not block, or when the
     * kernel came back with nothing at all (timeout, signal, or a partial
     * submission: let the core look at its clock). Only when every CQE was
     * internal (a removal, a stale poll masked to nothing) do we re-arm and
     * wait again for what is left of the timeout. */
    if (wanted || seen == 0 || timeout_ns == 0 || wait_ns != timeout_ns)
      return 0;
    if (timeout_ns > 0) {
      uint64_t now = coio__now_ns();
      if (now >= deadline)
        return 0;
      timeout_ns = (int64_t)(deadline - now);
    }
  }
}

/* ---- readiness ------------------------------------------------------------- */

/* Records io in the known list and reserves its place on the dirty list. */
static int remember(uring_state_t *s, coio__io_t *io) {
  if (s->nknown == s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 64;
    coio__io_t **k = realloc(s->known, ncap * sizeof *k);
    coio__io_t **d;
    if (!k)
      return COIO_ENOMEM;
    s->known = k;
    d = realloc(s->dirty, ncap * sizeof *d);
    if (!d)
      return COIO_ENOMEM; /* known grew alone: harmless, cap is unchanged */
    s->dirty = d;
    s->cap = ncap;
  }
  s->known[s->nknown++] = io;
  io->armed |= A_KNOWN;
  return 0;
}

/* epoll refuses, with EPERM, files that have no poll support (regular files,
 * directories, block devices), and a bad fd with EBADF, when the watch is
 * added. A poll request would instead report such a file always ready, or
 * fail later in a CQE: check up front so that both backends answer alike. */
static int check_fd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return coio__err_from_errno(errno);
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
    return COIO_ENOTSUP;
  return 0;
}

/* Records the change only; poll() turns it into SQEs. So no SQE is ever made
 * outside the loop thread's poll, and changes that cancel out within one
 * iteration (add_writer then remove_writer, as a transport does when a send
 * completes at once) cost nothing. */
static int ur_io_update(void *state, coio__io_t *io, unsigned old_interest) {
  uring_state_t *s = state;
  int rc;
  if (!(io->armed & A_KNOWN) && (rc = remember(s, io)) != 0)
    return rc;
  if (old_interest == 0 && io->interest != 0 && (rc = check_fd(io->fd)) != 0)
    return rc;
  if (io->interest == 0 && (io->armed & A_INFLIGHT))
    io->armed |= A_STALE;
  queue_io(s, io);
  return 0;
}

/* ---- operations: the completion seam (proactor.h) -------------------------- */

/* io_uring needs nothing per socket. */
static int ur_associate(void *state, coio_socket_t fd) {
  (void)state;
  return fd < 0 ? COIO_EBADF : 0;
}

/* Queues op for the next poll (see the top of the file); its done() comes
 * from a later poll, never from here. The opcodes used all predate
 * FEAT_EXT_ARG (5.11), which probe() requires, so none can be missing. */
static int ur_start(void *state, coio__op_t *op) {
  uring_state_t *s = state;
  uop_t *u;
  if (op && op->kind == COIO__OP_CONNECT_PIPE)
    return COIO_ENOTSUP; /* Windows named pipes only */
  if (!op || !op->done || op->kind < COIO__OP_RECV || op->kind > COIO__OP_WRITE)
    return COIO_EINVAL;
  if (op->in_flight)
    return COIO_EBUSY; /* never restarted while in flight */
  if (op->fd < 0)
    return COIO_EBADF;
  if (op->kind != COIO__OP_ACCEPT && op->kind != COIO__OP_CONNECT &&
      (op->niov < 1 || op->niov > COIO__OP_MAX_IOV))
    return COIO_EINVAL;
  if (s->closing)
    return COIO_ECLOSED;
  u = UOP(op);
  memset(u, 0, sizeof *u);
  u->state = U_START;
  u->next = s->live;
  if (s->live)
    UOP(s->live)->prev = op;
  s->live = op;
  s->nlive++;
  op->in_flight = 1;
  op_enqueue(s, op);
  return 0;
}

static int ur_cancel(void *state, coio__op_t *op) {
  uring_state_t *s = state;
  uop_t *u;
  if (!op)
    return COIO_EINVAL;
  if (!op->in_flight)
    return COIO_ENOENT;
  u = UOP(op);
  if (u->state & (U_CANCEL | U_LOCAL))
    return 0;
  u->state |= U_CANCEL;
  if (u->state & U_KERNEL) {
    u->state |= U_CANCEL_Q;
    op_enqueue(s, op);
  }
  /* else (U_START): still on the FIFO; flush_ops completes it locally */
  return 0;
}

/* The loop is closing (ur_close) with ops still in flight: transports that
 * were never closed, or closed ones whose cancels were not reaped before
 * the loop stopped. Their memory must no longer be the kernel's when the
 * ring is gone, and the seam promises each a done(): cancel them all, wait
 * (bounded) for each op's own CQE, and complete them. Their owners see a
 * closed loop (coio_loop_is_closed) and only release what they hold. If
 * the kernel cannot be asked (this thread does not own the ring) or does
 * not answer in time, the ops still held are left as they are: leaking
 * their owners is safe, freeing memory the kernel may still write is not. */
static void end_ops(uring_state_t *s) {
  coio__op_t *op;
  uint64_t deadline = coio__now_ns() + 2000000000u;
  int usable = s->enabled;
  s->closing = 1;
  /* Not yet given to the kernel: nothing to wait for. */
  while (s->q_head) {
    uop_t *u;
    op = s->q_head;
    u = UOP(op);
    s->q_head = u->qnext;
    u->qnext = NULL;
    u->state &= ~(unsigned)(U_QUEUED | U_CANCEL_Q);
    if (u->state & U_START)
      op_local(s, op, COIO_ECANCELED);
  }
  s->q_tail = NULL;
  run_local(s);
  /* A cancel for each op the kernel holds... */
  for (op = s->live; op && usable; op = UOP(op)->next) {
    int err = 0;
    struct io_uring_sqe *sqe = get_sqe(s, &err);
    if (!sqe) {
      usable = 0;
      break;
    }
    io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op | UD_OP, 0);
    io_uring_sqe_set_data64(sqe, UD_IGNORE);
    if (UOP(op)->state & U_POLL_FIRST) {
      if (!(sqe = get_sqe(s, &err))) {
        usable = 0;
        break;
      }
      io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op | UD_OP_POLL, 0);
      io_uring_sqe_set_data64(sqe, UD_IGNORE);
    }
  }
  /* ...and the ops' own CQEs. Other CQEs (polls, the wake-up, the cancels'
   * own results) are dropped: the loop is gone. */
  while (s->live && usable) {
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {0, 100000000};
    unsigned head, n = 0;
    int rc = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
      break; /* -EEXIST: another thread owns the ring */
    io_uring_for_each_cqe(&s->ring, head, cqe) {
      if (UD_IS_OP(cqe->user_data))
        op_finish(s, (coio__op_t *)(uintptr_t)(cqe->user_data & ~(uint64_t)UD_OP), cqe->res);
      n++;
    }
    io_uring_cq_advance(&s->ring, n);
    if (coio__now_ns() > deadline)
      break;
  }
}

static const struct coio__proactor_ops uring_ops = {ur_associate, ur_start, ur_cancel};

const coio__backend_t coio__backend_uring = {
    "io_uring", COIO_LOOP_PROACTOR, ur_probe,     ur_open,
    ur_close,   ur_poll,            ur_wake,      ur_io_update,
    &coio__proactor_driver,         &uring_ops,
};
