/* proactor/iocp.c - the IOCP backend (Windows): one I/O completion port per
 * loop, waited on with GetQueuedCompletionStatusEx in batches.
 *
 * A packet is told apart by its completion key:
 *  - KEY_OP: a handle associated with the port completed an overlapped
 *    operation. lpOverlapped is the OVERLAPPED at the start of the
 *    operation record's private area, so it is the coio__op_t itself
 *    (proactor.h; "the completion seam" below). GetQueuedCompletionStatusEx
 *    entries carry no error code: the NTSTATUS is in lpOverlapped->Internal
 *    (../shared/PITFALLS.md section 1).
 *  - KEY_OP_RESULT: an operation whose system call failed at once (or met
 *    EOF at once), so no packet of its own will come: start() posts this
 *    one so that its result is still delivered from the loop.
 *  - KEY_WAKE, lpOverlapped == NULL: a cross-thread wake-up posted by wake()
 *    (PITFALLS section 1: PostQueuedCompletionStatus; the core coalesces
 *    wakes with an atomic flag, so at most one is in flight).
 *  - KEY_READY, KEY_SELECT_FAILED: readiness, below.
 *
 * Timeouts: GQCS takes milliseconds and may return early (PITFALLS section
 * 1, timer resolution). The timeout is rounded up, and the core re-checks
 * its timers after every poll, so a timer never fires early; an early
 * return only costs one more iteration.
 *
 * ---- Readiness (add_reader / add_writer) on a completion port -----------
 *
 * IOCP has no readiness. mio and wepoll get it from AFD poll requests, which
 * need Wine >= 8.18; this machine runs Wine 8.0, so (PITFALLS section 1) a
 * helper thread runs select() and posts what it finds into the port. The
 * semantics are epoll's, level triggered: a reader that leaves data unread
 * is reported again at the next iteration.
 *
 * Ownership: every watched socket (interest != 0) has an entry in a table
 * shared with the thread (under sel->lock). At any time the socket is
 * either the thread's (entry->armed != 0: select() watches it) or the
 * loop's (armed == 0). Arming is one-shot: when select() finds the socket
 * ready, the thread disarms it and posts one packet (key KEY_READY,
 * lpOverlapped = the coio__io_t, bytes = events | generation << 2). The loop
 * reports it and puts the io on its "check" list.
 *
 * At the start of every poll (so after the callbacks of the last iteration
 * ran) the loop itself checks the sockets on the check list with a
 * zero-timeout select(): the ones still ready are reported at once and stay
 * on the list (that is what makes readiness level triggered, exactly one
 * iteration later, as on epoll); the others are armed, handed to the
 * thread, which is woken once. The same list takes new and changed watches,
 * so data that is already there is reported in the first poll after
 * add_reader, and a busy socket never makes a round trip through the
 * thread. When that check reported something the poll does not block.
 *
 * Stale packets: io records live until the loop is closed (backend.h), so a
 * packet never names freed memory; but it may describe an arming the loop
 * has since revoked. Every interest change bumps the io's generation (in
 * io->bdata) and puts the io back on the check list, and packets whose
 * generation differs are dropped: the check re-evaluates such an io anyway.
 *
 * select() on Windows (PITFALLS section 1): FD_SETSIZE is 64 under mingw,
 * so it is raised before winsock2.h and watches beyond it fail with
 * COIO_EMFILE (one slot is the thread's wake-up socket); a failed
 * non-blocking connect shows only in exceptfds, so writers also watch
 * exceptfds and a socket found there is reported readable and writable (the
 * callback's own call then sees the error, as with EPOLLERR); all-empty
 * sets are an error (WSAEINVAL), so the wake-up socket is always in the
 * read set. A socket closed while watched makes select() fail with
 * WSAENOTSOCK: it is then found and reported readable and writable until
 * its watch is removed. Readers do not watch exceptfds: out-of-band data
 * would show there forever and spin a reader that does not read it. */
#define FD_SETSIZE 1024
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifdef COIO_IOCP_COUNT_SKIPS
#include <stdio.h>
#endif

#include "coio/net.h"
#include "common/backend.h"
#include "common/error_internal.h"
#include "common/sys.h"
#include "proactor/proactor.h"

#if FD_SETSIZE < 1024
#error "winsock2.h was included before FD_SETSIZE was raised"
#endif

#define MAX_ENTRIES 128 /* packets dequeued per GetQueuedCompletionStatusEx */

enum {
  KEY_OP = 0,            /* operation completions: handles are associated with key 0 */
  KEY_WAKE = 1,          /* wake(): lpOverlapped == NULL */
  KEY_READY = 2,         /* a socket became ready: lpOverlapped is its coio__io_t */
  KEY_SELECT_FAILED = 3, /* the select() thread met a fatal error and ended */
  KEY_OP_RESULT = 4      /* posted by start(): lpOverlapped is the coio__op_t, the
                            byte count its result (a LONG: 0 or a COIO_E* code) */
};

/* ---- operation records (the completion seam, proactor.h) -----------------
 *
 * The backend's state for one operation lives in the first bytes of its
 * coio__op_t (op->priv), OVERLAPPED first: a packet's lpOverlapped is then
 * the coio__op_t itself, with no allocation per operation. Everything the
 * kernel may write until the packet is dequeued is in the record: the
 * OVERLAPPED, the flags and address length of a receive, AcceptEx's address
 * buffer. The WSABUF array is read by the call only, but kept here anyway
 * (no stack arrays, and it costs nothing). */

/* AcceptEx's address slots: at least 16 bytes more than the largest
 * address of the family (MS AcceptEx docs; PITFALLS section 1). */
#define ACCEPT_ADDR_LEN ((DWORD)sizeof(struct sockaddr_in6) + 16)

/* One call moves at most this much, so that the byte count fits the
 * result (a long: 32 bits on Windows). Larger requests go short; callers
 * handle short transfers anyway. */
#define MAX_IO_BYTES ((size_t)LONG_MAX)

typedef struct op_priv {
  OVERLAPPED ov; /* first: lpOverlapped == the coio__op_t */
  union {
    WSABUF wsabuf[COIO__OP_MAX_IOV];
    struct {
      SOCKET sock; /* the socket AcceptEx fills, made by start() */
      int fam;     /* its family's slot in the extension table */
      char addrs[2 * ACCEPT_ADDR_LEN]; /* local, then remote address */
    } acc;
  } u;
  DWORD flags;             /* WSARecv / WSARecvFrom: in and out */
  INT fromlen;             /* WSARecvFrom: the source's length, written at completion */
  coio__op_t *prev, *next; /* the loop's list of operations in flight */
  coio__op_t *qnext;       /* the loop's queue of operations finished in start() */
} op_priv_t;

/* x64: 32 + 128 + 8 + 24 = 192 bytes of the 192. */
typedef char op_priv_fits_in_coio__op_priv[sizeof(op_priv_t) <= COIO__OP_PRIV_SIZE ? 1 : -1];

static op_priv_t *op_priv(coio__op_t *op) { return (op_priv_t *)(void *)op->priv.bytes; }

/* The Winsock extension functions, per address family (slot 0: IPv4,
 * 1: IPv6), asked for once per loop with SIO_GET_EXTENSION_FUNCTION_POINTER
 * on the first socket of that family that needs one (MS docs: the pointers
 * belong to the provider, which the family picks). */
typedef struct ext_fns {
  int loaded; /* 1: all three are there (a failure is not remembered) */
  LPFN_ACCEPTEX accept_ex;
  LPFN_CONNECTEX connect_ex;
  LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
} ext_fns_t;

/* ---- readiness state ------------------------------------------------------ */

/* Sockets watched at once: the thread's read set also holds its wake-up. */
#define MAX_WATCHED (FD_SETSIZE - 1)
#define MAP_SIZE (2 * FD_SETSIZE) /* power of two, at most half full */

/* io->bdata: (table slot + 1) << 32 | generation (GEN_BITS). A packet's
 * byte count carries events in its low 2 bits and the generation above. */
#define GEN_BITS 30
#define GEN_MASK ((1u << GEN_BITS) - 1)
/* io->armed: 1 + the io's position on the check list, 0 when not on it. */

typedef struct sel_entry {
  SOCKET fd;
  coio__io_t *io;
  unsigned armed; /* events select() watches; 0: the loop's turn */
  unsigned gen;   /* the io's generation when armed, echoed in the packet */
} sel_entry_t;

/* SOCKET -> index, rebuilt for each select() result. */
typedef struct sock_map {
  SOCKET key[MAP_SIZE];
  unsigned short val[MAP_SIZE];
  unsigned char used[MAP_SIZE];
} sock_map_t;

/* The scratch of one select() call: sets, map, events per candidate. */
typedef struct sel_scratch {
  fd_set r, w, e;
  sock_map_t map;
  unsigned events[MAX_WATCHED];
} sel_scratch_t;

typedef struct selector {
  HANDLE port; /* the loop's port: where packets go */
  HANDLE thread;
  SOCKET wake_r, wake_w; /* a socket pair: wake_r is in every select() */

  /* under lock: the table, and how to talk to the thread */
  coio__mutex_t lock;
  sel_entry_t entries[MAX_WATCHED];
  unsigned count;
  int stop;
  int wake_pending; /* a wake-up byte is unread: no need to send another */
  int err;          /* COIO_E* once the thread died of a select() error */

  /* the helper thread's own */
  sel_scratch_t tscratch;

  /* the loop thread's own: the check list and the check's scratch */
  coio__io_t *check[MAX_WATCHED];
  unsigned ncheck;
  sel_scratch_t lscratch;
} selector_t;

typedef struct iocp_state {
  coio_loop_t *loop;
  HANDLE port;
  selector_t *sel; /* started with the first watch; NULL until then */
  int sel_failed;   /* the select() thread's fatal error, once dispatched */
  int closing;      /* close() runs: start() refuses new operations */
  coio__op_t *ops;  /* operations in flight (op_priv_t.prev/next) */
  size_t nops;
  /* Operations that succeeded inside start() on a socket in skip mode: no
   * packet will come, iocp_poll delivers them (op_priv_t.qnext, FIFO). */
  coio__op_t *done_head, *done_tail;
  /* The sockets this loop put in skip mode (skip_set_*), 0: an empty slot. */
  SOCKET *skip;
  size_t skip_cap, skip_count;
#ifdef COIO_IOCP_COUNT_SKIPS
  unsigned long long skipped, packets; /* debug: packets avoided / dequeued */
#endif
  ext_fns_t ext[2];
  OVERLAPPED_ENTRY entries[MAX_ENTRIES];
} iocp_state_t;

/* ---- helpers shared by both sides of select() ------------------------------ */

static unsigned io_gen(const coio__io_t *io) { return (unsigned)(io->bdata & GEN_MASK); }
static unsigned io_slot(const coio__io_t *io) { return (unsigned)(io->bdata >> 32); }
static void io_set_slot(coio__io_t *io, unsigned slot_plus_one) {
  io->bdata = ((uint64_t)slot_plus_one << 32) | io_gen(io);
}
static void io_bump_gen(coio__io_t *io) {
  io->bdata = (io->bdata & ~(uint64_t)GEN_MASK) | ((io_gen(io) + 1) & GEN_MASK);
}

static size_t map_hash(SOCKET s) {
  /* SOCKETs are handle values, multiples of 4: mix before masking. */
  return (size_t)(((uint64_t)s * 0x9E3779B97F4A7C15ull) >> 40) & (MAP_SIZE - 1);
}

static void map_put(sock_map_t *m, SOCKET s, unsigned v) {
  size_t i = map_hash(s);
  while (m->used[i] && m->key[i] != s)
    i = (i + 1) & (MAP_SIZE - 1);
  m->used[i] = 1;
  m->key[i] = s;
  m->val[i] = (unsigned short)v;
}

static int map_get(const sock_map_t *m, SOCKET s) {
  size_t i;
  for (i = map_hash(s); m->used[i]; i = (i + 1) & (MAP_SIZE - 1))
    if (m->key[i] == s)
      return m->val[i];
  return -1;
}

/* Starts a select() call's sets and map. */
static void scratch_reset(sel_scratch_t *sc) {
  sc->r.fd_count = sc->w.fd_count = sc->e.fd_count = 0;
  memset(sc->map.used, 0, sizeof sc->map.used);
}

/* Adds candidate idx. The sets are filled directly: FD_SET scans the whole
 * set for a duplicate first, and every socket is added once here. */
static void scratch_add(sel_scratch_t *sc, unsigned idx, SOCKET fd, unsigned interest) {
  if (interest & COIO__READABLE)
    sc->r.fd_array[sc->r.fd_count++] = fd;
  if (interest & COIO__WRITABLE) {
    sc->w.fd_array[sc->w.fd_count++] = fd;
    sc->e.fd_array[sc->e.fd_count++] = fd;
  }
  map_put(&sc->map, fd, idx);
  sc->events[idx] = 0;
}

static void collect_set(sel_scratch_t *sc, const fd_set *set, unsigned ev) {
  u_int i;
  for (i = 0; i < set->fd_count; i++) {
    int k = map_get(&sc->map, set->fd_array[i]);
    if (k >= 0)
      sc->events[k] |= ev;
  }
}

/* After select() returned: events per candidate (select() leaves only the
 * ready sockets in each set). */
static void scratch_collect(sel_scratch_t *sc) {
  collect_set(sc, &sc->r, COIO__READABLE);
  collect_set(sc, &sc->w, COIO__WRITABLE);
  collect_set(sc, &sc->e, COIO__READABLE | COIO__WRITABLE);
}

static int is_socket(SOCKET fd) {
  int type, len = (int)sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0 ||
         WSAGetLastError() != WSAENOTSOCK;
}

/* Under lock: hands a ready socket back to the loop (one-shot). */
static void post_ready(selector_t *t, sel_entry_t *en, unsigned events) {
  /* Posting can only fail for lack of memory: the entry then stays armed
   * and the next select() finds it again, so the event is not lost. */
  if (PostQueuedCompletionStatus(t->port, (DWORD)(events | (en->gen << 2)), KEY_READY,
                                 (LPOVERLAPPED)en->io))
    en->armed = 0;
}

/* Under lock: makes select() return and re-read the table. */
static void sel_wake_locked(selector_t *t) {
  char b = 0;
  if (t->wake_pending)
    return;
  /* WSAEWOULDBLOCK means the buffer is full of unread wake-ups: fine. */
  if (send(t->wake_w, &b, 1, 0) == 1 || WSAGetLastError() == WSAEWOULDBLOCK)
    t->wake_pending = 1;
}

/* ---- the select() thread ---------------------------------------------------- */

/* Under lock, after select() failed with err. 1: go on, 0: the thread ends. */
static int sel_recover_locked(selector_t *t, int err) {
  unsigned i, found = 0;
  if (err == WSAEINTR)
    return 1;
  if (err == WSAENOTSOCK) {
    /* A watched socket was closed under us: report it, readable and
     * writable, so that its callbacks see the error and drop the watch. */
    for (i = 0; i < t->count; i++) {
      sel_entry_t *en = &t->entries[i];
      if (en->armed && !is_socket(en->fd)) {
        post_ready(t, en, en->armed);
        found++;
      }
    }
    if (!found) { /* it is gone from the table already: retry, gently */
      coio__mutex_unlock(&t->lock);
      Sleep(1);
      coio__mutex_lock(&t->lock);
    }
    return 1;
  }
  t->err = coio__err_from_win32((unsigned long)err);
  PostQueuedCompletionStatus(t->port, 0, KEY_SELECT_FAILED, NULL);
  return 0;
}

static DWORD WINAPI sel_main(LPVOID arg) {
  selector_t *t = arg;
  sel_scratch_t *sc = &t->tscratch;
  coio__mutex_lock(&t->lock);
  while (!t->stop) {
    unsigned i;
    int n, err;
    scratch_reset(sc);
    sc->r.fd_array[sc->r.fd_count++] = t->wake_r;
    for (i = 0; i < t->count; i++)
      if (t->entries[i].armed)
        scratch_add(sc, i, t->entries[i].fd, t->entries[i].armed);
    coio__mutex_unlock(&t->lock);

    n = select(0, &sc->r, &sc->w, &sc->e, NULL);
    err = n == SOCKET_ERROR ? WSAGetLastError() : 0;

    coio__mutex_lock(&t->lock);
    if (t->stop)
      break;
    if (n == SOCKET_ERROR) {
      if (!sel_recover_locked(t, err))
        break;
      continue;
    }
    if (FD_ISSET(t->wake_r, &sc->r)) {
      char buf[64];
      while (recv(t->wake_r, buf, sizeof buf, 0) > 0)
        t->wake_pending = 0;
    }
    /* The table may have changed while select() ran: map the results onto
     * the entries armed now. A socket's readiness is a fact about the
     * socket, whichever entry asked; events outside what is armed now are
     * dropped and the entry stays armed. */
    memset(sc->map.used, 0, sizeof sc->map.used);
    for (i = 0; i < t->count; i++)
      if (t->entries[i].armed) {
        map_put(&sc->map, t->entries[i].fd, i);
        sc->events[i] = 0;
      }
    scratch_collect(sc);
    for (i = 0; i < t->count; i++) {
      sel_entry_t *en = &t->entries[i];
      if (en->armed && (sc->events[i] & en->armed))
        post_ready(t, en, sc->events[i] & en->armed);
    }
  }
  coio__mutex_unlock(&t->lock);
  return 0;
}

static int sel_start(iocp_state_t *s) {
  selector_t *t = calloc(1, sizeof *t);
  coio_socket_t pair[2];
  int rc;
  if (!t)
    return COIO_ENOMEM;
  if ((rc = coio_socketpair(pair)) != 0) {
    free(t);
    return rc;
  }
  t->port = s->port;
  t->wake_r = (SOCKET)pair[0];
  t->wake_w = (SOCKET)pair[1];
  coio__mutex_init(&t->lock);
  /* The thread calls no C library function that needs _beginthreadex. */
  t->thread = CreateThread(NULL, 0, sel_main, t, 0, NULL);
  if (!t->thread) {
    rc = coio__err_from_win32(GetLastError());
    closesocket(t->wake_r);
    closesocket(t->wake_w);
    coio__mutex_destroy(&t->lock);
    free(t);
    return rc;
  }
  s->sel = t;
  return 0;
}

static void sel_stop(selector_t *t) {
  char b = 0;
  coio__mutex_lock(&t->lock);
  t->stop = 1;
  send(t->wake_w, &b, 1, 0); /* regardless of wake_pending: cheap, certain */
  coio__mutex_unlock(&t->lock);
  WaitForSingleObject(t->thread, INFINITE);
  CloseHandle(t->thread);
  closesocket(t->wake_r);
  closesocket(t->wake_w);
  coio__mutex_destroy(&t->lock);
  free(t);
}

/* ---- the loop's side of readiness ----------------------------------------- */

static void check_add(selector_t *t, coio__io_t *io) {
  if (io->armed)
    return;
  t->check[t->ncheck++] = io; /* cannot overflow: only watched ios, one each */
  io->armed = t->ncheck;
}

static void check_remove(selector_t *t, coio__io_t *io) {
  unsigned pos = io->armed;
  if (!pos)
    return;
  io->armed = 0;
  if (pos != t->ncheck) {
    t->check[pos - 1] = t->check[t->ncheck - 1];
    t->check[pos - 1]->armed = pos;
  }
  t->ncheck--;
}

/* The start of a poll: checks the ios on the check list with a zero-timeout
 * select(), reports the ready ones (they stay on the list), hands the others
 * to the thread. Returns how many were reported, or a COIO_E* code. */
static int check_now(iocp_state_t *s) {
  selector_t *t = s->sel;
  sel_scratch_t *sc = &t->lscratch;
  struct timeval zero = {0, 0};
  unsigned k, kept = 0, armed = 0;
  int n, reported = 0;

  if (t->ncheck == 0)
    return 0;
  scratch_reset(sc);
  for (k = 0; k < t->ncheck; k++)
    scratch_add(sc, k, t->check[k]->fd, t->check[k]->interest);
  n = select(0, &sc->r, &sc->w, &sc->e, &zero);
  if (n == SOCKET_ERROR) {
    int err = WSAGetLastError();
    if (err != WSAENOTSOCK)
      return coio__err_from_win32((unsigned long)err);
    /* A socket closed while watched: it is reported readable and writable
     * (its callbacks' calls fail and should drop the watch); the others
     * are handed to the thread unseen, as if not ready. */
    for (k = 0; k < t->ncheck; k++)
      sc->events[k] = is_socket(t->check[k]->fd) ? 0 : COIO__READABLE | COIO__WRITABLE;
  } else if (n > 0) {
    scratch_collect(sc);
  }

  coio__mutex_lock(&t->lock);
  for (k = 0; k < t->ncheck; k++) {
    coio__io_t *io = t->check[k];
    unsigned ev = sc->events[k] & io->interest;
    if (ev) {
      coio__loop_io_ready(s->loop, io, ev);
      t->check[kept++] = io;
      io->armed = kept;
      reported++;
    } else {
      sel_entry_t *en = &t->entries[io_slot(io) - 1];
      en->armed = io->interest;
      en->gen = io_gen(io);
      io->armed = 0;
      armed++;
    }
  }
  t->ncheck = kept;
  if (armed)
    sel_wake_locked(t);
  coio__mutex_unlock(&t->lock);
  return reported;
}

/* A KEY_READY packet. */
static void ready_packet(iocp_state_t *s, OVERLAPPED_ENTRY *e) {
  coio__io_t *io = (coio__io_t *)e->lpOverlapped;
  DWORD bits = e->dwNumberOfBytesTransferred;
  if (!s->sel || (bits >> 2) != io_gen(io) || io->interest == 0)
    return; /* stale: the interest changed since it was armed */
  coio__loop_io_ready(s->loop, io, bits & (COIO__READABLE | COIO__WRITABLE));
  /* Back to the loop: checked again at the start of the next poll, after
   * its callbacks ran (level triggering). */
  check_add(s->sel, io);
}

static int iocp_io_update(void *state, coio__io_t *io, unsigned old_interest) {
  iocp_state_t *s = state;
  selector_t *t;
  unsigned slot = io_slot(io);
  int rc;
  (void)old_interest;

  if (io->interest == 0) { /* the last watch on this socket is gone */
    if (!slot)
      return 0;
    t = s->sel;
    io_bump_gen(io);
    check_remove(t, io);
    coio__mutex_lock(&t->lock);
    if (slot != t->count) { /* keep the table dense: move the last entry here */
      t->entries[slot - 1] = t->entries[t->count - 1];
      io_set_slot(t->entries[slot - 1].io, slot);
    }
    t->count--;
    /* The socket may be closed next: make select() let go of it. */
    sel_wake_locked(t);
    coio__mutex_unlock(&t->lock);
    io_set_slot(io, 0);
    return 0;
  }

  if (!s->sel && (rc = sel_start(s)) != 0)
    return rc;
  t = s->sel;
  coio__mutex_lock(&t->lock);
  rc = t->err;
  coio__mutex_unlock(&t->lock);
  if (rc)
    return rc;

  if (!slot) {
    /* select() can only watch sockets (epoll refuses regular files too). */
    if (!is_socket((SOCKET)io->fd))
      return COIO_ENOTSOCK;
    coio__mutex_lock(&t->lock);
    if (t->count == MAX_WATCHED) {
      coio__mutex_unlock(&t->lock);
      return COIO_EMFILE;
    }
    slot = ++t->count;
    t->entries[slot - 1].fd = (SOCKET)io->fd;
    t->entries[slot - 1].io = io;
    t->entries[slot - 1].armed = 0; /* the loop checks it first */
    coio__mutex_unlock(&t->lock);
    io_set_slot(io, slot);
  } else {
    /* Take it back from the thread; a packet already on its way carries
     * the old generation and is dropped. */
    coio__mutex_lock(&t->lock);
    t->entries[slot - 1].armed = 0;
    coio__mutex_unlock(&t->lock);
  }
  io_bump_gen(io);
  check_add(t, io);
  return 0;
}

/* ---- the port ----------------------------------------------------------------- */

static int iocp_probe(void) { return 0; }

static int iocp_open(coio_loop_t *loop, void **out) {
  iocp_state_t *s = calloc(1, sizeof *s);
  if (!s)
    return COIO_ENOMEM;
  s->loop = loop;
  /* One concurrent thread: only the loop's thread dequeues. */
  s->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
  if (!s->port) {
    int rc = coio__err_from_win32(GetLastError());
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

/* ---- the completion seam (proactor.h) ----------------------------------------
 *
 * associate / start / cancel for proactor/transport.c. The choices, each for
 * one of proactor.h's invariants (PITFALLS section 1 throughout):
 *
 * - Skip-on-success, for TCP sockets only. A synchronous success still
 *   queues a packet (PITFALLS section 1) unless the handle is in
 *   FILE_SKIP_COMPLETION_PORT_ON_SUCCESS mode; then an operation that
 *   succeeds inside the call costs no kernel round trip. associate() sets
 *   that mode (with FILE_SKIP_SET_EVENT_ON_HANDLE: nobody waits on the
 *   handle) only on a socket whose *own* provider is IFS: SO_PROTOCOL_INFOW
 *   says XP1_IFS_HANDLES and ProtocolChain.ChainLen == 1 (a base provider,
 *   no layered LSP above it: with a non-IFS LSP the skipped packet can be
 *   lost, KB 2568167; libuv winsock.c), and only for SOCK_STREAM over
 *   AF_INET/AF_INET6. Never for UDP (libuv udp.c leaves it off: a
 *   synchronous WSARecvFrom success in skip mode has been seen to lose
 *   its packet with some providers; golang/go#22149, mio#476), nor for
 *   pipes. Not "any provider is IFS": Wine lists a non-IFS IPX entry in
 *   WSAEnumProtocols, so the socket's own entry is what counts. The mode
 *   cannot be undone, so the loop remembers the sockets it put in that
 *   mode (a set of SOCKET values, s->skip): the seam requires associate()
 *   before a handle's first start on this loop, so a handle value reused
 *   by a new socket or pipe is re-evaluated there (added or removed) before
 *   any operation runs on it; the values of sockets closed since stay in
 *   the set (no close hook in the seam) and cost one slot each until
 *   reused. The seam still never calls done() from inside start(): an
 *   operation that succeeded at once on such a socket goes on a loop-local
 *   queue (done_head) which iocp_poll drains after the packets, and poll
 *   does not block while it is non-empty. Its result is read from the
 *   OVERLAPPED exactly as a packet's (the I/O manager fills Internal and
 *   InternalHigh on a synchronous completion too), so AcceptEx and
 *   ConnectEx get their context updates the same way. Failures are
 *   unaffected: a request that pended still queues its packet whatever
 *   its result (the mode skips only synchronous successes), and an
 *   immediate failure is posted as KEY_OP_RESULT as before. cancel() of an
 *   operation waiting on the local queue finds nothing to cancel
 *   (ERROR_NOT_FOUND) and the queue delivers its result, once; close()
 *   delivers the queue before it drains the packets.
 * - A call that fails at once queues no packet (the I/O manager queues one
 *   when the request pended or ended without an error: success or a
 *   warning). start() then posts a KEY_OP_RESULT packet carrying the
 *   result, so that even an immediate error (or an immediate EOF on a pipe)
 *   reaches done() from the loop, exactly as every result does on
 *   io_uring. start() itself fails only for a misuse (NULL, a bad kind,
 *   fd or niov, an op already in flight), while the loop is closing, or if
 *   even that post fails (no memory).
 * - Warnings still queue a packet: a datagram larger than the buffer
 *   (WSAEMSGSIZE, STATUS_BUFFER_OVERFLOW) and a message-mode pipe read
 *   with more to come (ERROR_MORE_DATA) are treated as pending, and their
 *   completion as a success with the bytes that fit (Linux recv truncates
 *   a datagram the same way). Observed under Wine: WSARecvFrom on a
 *   queued 100-byte datagram with a 10-byte buffer returns WSAEMSGSIZE
 *   and its packet still comes, Internal 0x80000005, 10 bytes.
 * - cancel() is CancelIoEx on the operation's own OVERLAPPED; the
 *   cancelled operation's own packet still comes (STATUS_CANCELLED:
 *   COIO_ECANCELED), and ERROR_NOT_FOUND means it finished already and its
 *   packet is queued: either way done() follows, once.
 * - Closing a socket with operations pending: cancel them first, close
 *   the socket after their packets came (what proactor/transport.c does).
 *   closesocket alone is not enough: on Windows it aborts pending
 *   operations (995 or 64), but under Wine 8 a pending WSASend stays
 *   pending after closesocket until the *peer* goes away, then completes
 *   with STATUS_OBJECT_TYPE_MISMATCH (COIO_EBADF), while a pending
 *   WSARecv ends at once with STATUS_HANDLES_CLOSED (COIO_ECANCELED);
 *   CancelIoEx before closesocket ends either at once with
 *   STATUS_CANCELLED (all observed under Wine here; Windows documents
 *   the cancel). Whatever the code, an owner that closed the
 *   socket treats the completion as aborted (PITFALLS section 1), and
 *   frees the record only in done(). close() of the loop cancels and
 *   drains whatever is still in flight (iocp_close).
 * - ACCEPT: AcceptEx with a socket made here (coio__socket_open: the
 *   listener's family, overlapped, not inheritable) and
 *   dwReceiveDataLength 0, so that it completes on the connection, not on
 *   the client's first bytes. On completion SO_UPDATE_ACCEPT_CONTEXT (the
 *   socket has no context without it: getpeername and shutdown fail on
 *   Windows, though Wine does not notice), then non-blocking and
 *   TCP_NODELAY; op->addr is the peer from GetAcceptExSockaddrs. A failed
 *   accept closes its socket and leaves op->accepted invalid.
 * - CONNECT: ConnectEx needs a bound socket: bind to the wildcard of the
 *   address's family first, where WSAEINVAL means "bound already" (the
 *   caller's local_addr). On success SO_UPDATE_CONNECT_CONTEXT.
 * - The extension functions (AcceptEx, ConnectEx, GetAcceptExSockaddrs)
 *   come from SIO_GET_EXTENSION_FUNCTION_POINTER, once per family per loop
 *   (no shared state between loop threads). */

#define IN_FLIGHT 1L /* start_*: the kernel has the request; its packet will come */
/* start_* on a socket: the call succeeded at once. Its packet comes unless
 * the socket is in skip mode (iocp_start tells). */
#define DONE_NOW 2L

/* NTSTATUS values met in OVERLAPPED.Internal (ntstatus.h is not for
 * user-mode code next to windows.h). */
#define ST_BUFFER_OVERFLOW ((LONG)0x80000005L) /* a warning: the data that fit is there */
#define ST_END_OF_FILE ((LONG)0xC0000011L)

static void ops_add(iocp_state_t *s, coio__op_t *op) {
  op_priv_t *p = op_priv(op);
  p->prev = NULL;
  p->next = s->ops;
  if (s->ops)
    op_priv(s->ops)->prev = op;
  s->ops = op;
  s->nops++;
}

static void ops_remove(iocp_state_t *s, coio__op_t *op) {
  op_priv_t *p = op_priv(op);
  if (p->prev)
    op_priv(p->prev)->next = p->next;
  else
    s->ops = p->next;
  if (p->next)
    op_priv(p->next)->prev = p->prev;
  s->nops--;
}

/* ---- the skip-mode set: SOCKET values, open addressing, 0 = empty ---- */

static size_t skip_hash(SOCKET fd, size_t cap) {
  return (size_t)(((uint64_t)fd * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static size_t skip_find(const iocp_state_t *s, SOCKET fd) { /* its slot, or an empty one */
  size_t i = skip_hash(fd, s->skip_cap);
  while (s->skip[i] && s->skip[i] != fd)
    i = (i + 1) & (s->skip_cap - 1);
  return i;
}

static int skip_has(const iocp_state_t *s, SOCKET fd) {
  return s->skip_count > 0 && s->skip[skip_find(s, fd)] == fd;
}

/* Room for one more, so that the insert after SetFileCompletionNotificationModes
 * (which cannot be undone) cannot fail. */
static int skip_reserve(iocp_state_t *s) {
  size_t cap, k;
  SOCKET *old = s->skip;
  if ((s->skip_count + 1) * 2 <= s->skip_cap)
    return 0;
  cap = s->skip_cap ? s->skip_cap * 2 : 64;
  if (!(s->skip = calloc(cap, sizeof *s->skip))) {
    s->skip = old;
    return COIO_ENOMEM;
  }
  k = s->skip_cap;
  s->skip_cap = cap;
  while (k-- > 0)
    if (old[k])
      s->skip[skip_find(s, old[k])] = old[k];
  free(old);
  return 0;
}

static void skip_del(iocp_state_t *s, SOCKET fd) {
  size_t i, j, mask = s->skip_cap - 1;
  if (!skip_has(s, fd))
    return;
  i = skip_find(s, fd);
  s->skip[i] = 0;
  s->skip_count--;
  /* Backward shift: move up every later entry of the run whose home slot
   * does not lie cyclically in (i, j]. */
  for (j = (i + 1) & mask; s->skip[j]; j = (j + 1) & mask) {
    size_t h = skip_hash(s->skip[j], s->skip_cap);
    if (((j - h) & mask) >= ((j - i) & mask)) {
      s->skip[i] = s->skip[j];
      s->skip[j] = 0;
      i = j;
    }
  }
}

/* A TCP socket whose own provider is IFS (the seam's notes above). */
static int skip_safe(SOCKET fd) {
  WSAPROTOCOL_INFOW info;
  int len = (int)sizeof info;
  if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0)
    return 0;
  return (info.iAddressFamily == AF_INET || info.iAddressFamily == AF_INET6) &&
         info.iSocketType == SOCK_STREAM && (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0 &&
         info.ProtocolChain.ChainLen == BASE_PROTOCOL;
}

/* After a first association: skip mode where safe, and the set told. */
static void skip_decide(iocp_state_t *s, coio_socket_t fd) {
  SOCKET h = (SOCKET)fd;
  if (is_socket(h) && skip_safe(h) && skip_reserve(s) == 0 &&
      SetFileCompletionNotificationModes((HANDLE)h,
                                         FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | FILE_SKIP_SET_EVENT_ON_HANDLE)) {
    if (!skip_has(s, h)) {
      s->skip[skip_find(s, h)] = h;
      s->skip_count++;
    }
    return;
  }
  skip_del(s, h); /* a reused handle value: no longer in skip mode */
}

/* ---- the local queue of operations that finished inside start() ---- */

static void done_push(iocp_state_t *s, coio__op_t *op) {
  op_priv(op)->qnext = NULL;
  if (s->done_tail)
    op_priv(s->done_tail)->qnext = op;
  else
    s->done_head = op;
  s->done_tail = op;
}

static int wsa_err(void) { return coio__err_from_win32((unsigned long)WSAGetLastError()); }

/* After a Winsock call that returned failure: pending, or its error. */
static long wsa_pending_or_err(int pending_too) {
  int e = WSAGetLastError();
  if (e == WSA_IO_PENDING || (e == pending_too && e != 0))
    return IN_FLIGHT;
  return coio__err_from_win32((unsigned long)e);
}

static int fam_slot(int af) { return af == AF_INET ? 0 : af == AF_INET6 ? 1 : -1; }

static int get_ext_fn(SOCKET sock, GUID guid, void *fn, DWORD size) {
  DWORD bytes = 0;
  if (WSAIoctl(sock, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, fn, size, &bytes, NULL,
               NULL) != 0)
    return wsa_err();
  return 0;
}

/* The family's extension functions, asked of sock the first time. NULL and
 * *err on failure (not remembered: the next socket may do better). */
static const ext_fns_t *ext_load(iocp_state_t *s, SOCKET sock, int slot, int *err) {
  ext_fns_t *x = &s->ext[slot];
  if (!x->loaded) {
    GUID ga = WSAID_ACCEPTEX, gc = WSAID_CONNECTEX, gs = WSAID_GETACCEPTEXSOCKADDRS;
    int rc;
    if ((rc = get_ext_fn(sock, ga, &x->accept_ex, sizeof x->accept_ex)) != 0 ||
        (rc = get_ext_fn(sock, gc, &x->connect_ex, sizeof x->connect_ex)) != 0 ||
        (rc = get_ext_fn(sock, gs, &x->accept_addrs, sizeof x->accept_addrs)) != 0) {
      *err = rc;
      return NULL;
    }
    x->loaded = 1;
  }
  return x;
}

/* The WSABUFs for op->iov[0, min(niov, max)), at most MAX_IO_BYTES in all
 * (start() checked 1 <= niov <= COIO__OP_MAX_IOV; the empty case is kept
 * for safety). */
static DWORD fill_wsabufs(op_priv_t *p, const coio__op_t *op, size_t max) {
  size_t i, n = op->niov < max ? op->niov : max, total = 0;
  DWORD k = 0;
  for (i = 0; i < n && total < MAX_IO_BYTES; i++) {
    size_t len = op->iov[i].len;
    if (len > MAX_IO_BYTES - total)
      len = MAX_IO_BYTES - total;
    p->u.wsabuf[k].buf = (char *)op->iov[i].base;
    p->u.wsabuf[k].len = (ULONG)len;
    total += len;
    k++;
  }
  if (k == 0) {
    p->u.wsabuf[0].buf = NULL;
    p->u.wsabuf[0].len = 0;
    k = 1;
  }
  return k;
}

/* iov[0] for ReadFile / WriteFile (no gather on pipes: a WRITE sends the
 * first buffer, a short write the caller continues). */
static DWORD first_len(const coio__op_t *op) {
  if (op->niov == 0)
    return 0;
  return (DWORD)(op->iov[0].len < MAX_IO_BYTES ? op->iov[0].len : MAX_IO_BYTES);
}

static long start_recv(op_priv_t *p, coio__op_t *op) {
  DWORD n = fill_wsabufs(p, op, 1);
  p->flags = 0;
  if (WSARecv((SOCKET)op->fd, p->u.wsabuf, n, NULL, &p->flags, &p->ov, NULL) == 0)
    return DONE_NOW; /* finished already; queued a packet unless in skip mode */
  return wsa_pending_or_err(WSAEMSGSIZE);
}

static long start_send(op_priv_t *p, coio__op_t *op) {
  DWORD n = fill_wsabufs(p, op, COIO__OP_MAX_IOV);
  if (WSASend((SOCKET)op->fd, p->u.wsabuf, n, NULL, 0, &p->ov, NULL) == 0)
    return DONE_NOW;
  return wsa_pending_or_err(0);
}

static long start_recvfrom(op_priv_t *p, coio__op_t *op) {
  DWORD n = fill_wsabufs(p, op, 1);
  p->flags = 0;
  p->fromlen = (INT)sizeof op->addr.u.bytes;
  op->addr.len = 0;
  if (WSARecvFrom((SOCKET)op->fd, p->u.wsabuf, n, NULL, &p->flags, (struct sockaddr *)op->addr.u.bytes,
                  &p->fromlen, &p->ov, NULL) == 0)
    return DONE_NOW;
  return wsa_pending_or_err(WSAEMSGSIZE);
}

static long start_sendto(op_priv_t *p, coio__op_t *op) {
  DWORD n = fill_wsabufs(p, op, COIO__OP_MAX_IOV);
  /* len 0: the connected peer (WSASendTo then is WSASend) */
  const struct sockaddr *to = op->addr.len ? (const struct sockaddr *)op->addr.u.bytes : NULL;
  if (WSASendTo((SOCKET)op->fd, p->u.wsabuf, n, NULL, 0, to, (int)op->addr.len, &p->ov, NULL) == 0)
    return DONE_NOW;
  return wsa_pending_or_err(0);
}

static long start_read(op_priv_t *p, coio__op_t *op) {
  DWORD e;
  int rc;
  void *buf = op->niov ? (void *)op->iov[0].base : NULL;
  if (ReadFile((HANDLE)op->fd, buf, first_len(op), NULL, &p->ov))
    return IN_FLIGHT;
  e = GetLastError();
  if (e == ERROR_IO_PENDING || e == ERROR_MORE_DATA)
    return IN_FLIGHT;
  if (e == ERROR_HANDLE_EOF)
    return 0;
  rc = coio__err_from_win32(e);
  /* The writer is gone (ERROR_BROKEN_PIPE, or the server end's client
   * disconnected): that is the pipe's EOF (PITFALLS section 2: 109). */
  return rc == COIO_EPIPE ? 0 : rc;
}

static long start_write(op_priv_t *p, coio__op_t *op) {
  const void *buf = op->niov ? op->iov[0].base : NULL;
  if (WriteFile((HANDLE)op->fd, buf, first_len(op), NULL, &p->ov))
    return IN_FLIGHT;
  if (GetLastError() == ERROR_IO_PENDING)
    return IN_FLIGHT;
  return coio__err_from_win32(GetLastError());
}

/* A named-pipe server instance waits for a client (asyncio's
 * IocpProactor.accept_pipe). A client that connected between
 * CreateNamedPipeW and this call gives ERROR_PIPE_CONNECTED (535, also
 * under Wine, PITFALLS section 2) and no packet: that is a success now. */
static long start_connect_pipe(op_priv_t *p, coio__op_t *op) {
  DWORD e;
  if (ConnectNamedPipe((HANDLE)op->fd, &p->ov))
    return IN_FLIGHT; /* overlapped: a TRUE still queues its packet */
  e = GetLastError();
  if (e == ERROR_IO_PENDING)
    return IN_FLIGHT;
  if (e == ERROR_PIPE_CONNECTED)
    return 0;
  return coio__err_from_win32(e);
}

static long start_accept(iocp_state_t *s, op_priv_t *p, coio__op_t *op) {
  SOCKET lis = (SOCKET)op->fd;
  struct sockaddr_storage ss;
  int len = (int)sizeof ss, slot, rc;
  const ext_fns_t *x;
  coio_socket_t acc;
  DWORD bytes = 0;
  long r;

  op->accepted = COIO_INVALID_SOCKET;
  op->addr.len = 0;
  p->u.acc.sock = INVALID_SOCKET;
  /* The accept socket must be of the listener's family. */
  if (getsockname(lis, (struct sockaddr *)&ss, &len) != 0)
    return wsa_err();
  if ((slot = fam_slot(ss.ss_family)) < 0)
    return COIO_EAFNOSUPPORT;
  if (!(x = ext_load(s, lis, slot, &rc)))
    return rc;
  if ((rc = coio__socket_open(slot ? COIO_AF_INET6 : COIO_AF_INET, COIO_SOCK_STREAM, &acc)) != 0)
    return rc; /* COIO_EMFILE and the like: the listener's caller backs off */
  p->u.acc.sock = (SOCKET)acc;
  p->u.acc.fam = slot;
  /* dwReceiveDataLength 0: complete on the connection itself. */
  if (x->accept_ex(lis, (SOCKET)acc, p->u.acc.addrs, 0, ACCEPT_ADDR_LEN, ACCEPT_ADDR_LEN, &bytes,
                   &p->ov))
    return DONE_NOW;
  r = wsa_pending_or_err(0);
  if (r != IN_FLIGHT) {
    closesocket((SOCKET)acc);
    p->u.acc.sock = INVALID_SOCKET;
  }
  return r;
}

static long start_connect(iocp_state_t *s, op_priv_t *p, coio__op_t *op) {
  SOCKET fd = (SOCKET)op->fd;
  const struct sockaddr *to = (const struct sockaddr *)op->addr.u.bytes;
  struct sockaddr_storage any;
  const ext_fns_t *x;
  int slot, rc;

  if (op->addr.len < sizeof(struct sockaddr_in) || (slot = fam_slot(to->sa_family)) < 0)
    return op->addr.len ? COIO_EAFNOSUPPORT : COIO_EINVAL;
  if (!(x = ext_load(s, fd, slot, &rc)))
    return rc;
  /* ConnectEx refuses an unbound socket (WSAEINVAL, also under Wine). A
   * socket bound already (the caller's local address) refuses this bind
   * with WSAEINVAL: that one is fine. */
  memset(&any, 0, sizeof any);
  any.ss_family = to->sa_family;
  if (bind(fd, (const struct sockaddr *)&any,
           slot ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in)) != 0 &&
      WSAGetLastError() != WSAEINVAL)
    return wsa_err();
  if (x->connect_ex(fd, to, (int)op->addr.len, NULL, 0, NULL, &p->ov))
    return DONE_NOW;
  return wsa_pending_or_err(0);
}

/* A successful AcceptEx: give the socket its context, then hand it over. */
static long accept_finish(iocp_state_t *s, coio__op_t *op) {
  op_priv_t *p = op_priv(op);
  SOCKET acc = p->u.acc.sock, lis = (SOCKET)op->fd;
  struct sockaddr *local = NULL, *remote = NULL;
  INT llen = 0, rlen = 0;
  u_long nonblocking = 1;
  int one = 1;
  p->u.acc.sock = INVALID_SOCKET;
  /* Without SO_UPDATE_ACCEPT_CONTEXT the socket has no context:
   * getpeername, getsockname and shutdown fail on Windows (Wine lets them
   * pass, so a missing call would go unnoticed there). The context copies
   * the listener's options, so the socket's own follow. */
  if (setsockopt(acc, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&lis, (int)sizeof lis) != 0 ||
      ioctlsocket(acc, FIONBIO, &nonblocking) != 0) {
    int rc = wsa_err();
    closesocket(acc);
    return rc;
  }
  setsockopt(acc, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, (int)sizeof one); /* best effort */
  s->ext[p->u.acc.fam].accept_addrs(p->u.acc.addrs, 0, ACCEPT_ADDR_LEN, ACCEPT_ADDR_LEN, &local, &llen,
                                     &remote, &rlen);
  if (remote && rlen > 0 && (size_t)rlen <= sizeof op->addr.u.bytes) {
    memcpy(op->addr.u.bytes, remote, (size_t)rlen);
    op->addr.len = (uint32_t)rlen;
  }
  op->accepted = (coio_socket_t)acc;
  return 0;
}

static long connect_finish(coio__op_t *op) {
  /* Without it getpeername and shutdown fail on the connected socket. */
  if (setsockopt((SOCKET)op->fd, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
    return wsa_err();
  return 0;
}

/* The result of an operation whose own packet was dequeued. */
static long op_result(iocp_state_t *s, coio__op_t *op, DWORD bytes) {
  op_priv_t *p = op_priv(op);
  /* Internal holds an NTSTATUS: success and informational >= 0, warnings
   * and errors negative. */
  LONG status = (LONG)p->ov.Internal;
  long rc;
  if (status == ST_BUFFER_OVERFLOW &&
      (op->kind == COIO__OP_RECV || op->kind == COIO__OP_RECVFROM || op->kind == COIO__OP_READ))
    status = 0; /* truncated datagram or partial message: what fit is there */
  if (status >= 0) {
    switch (op->kind) {
    case COIO__OP_ACCEPT:
      return accept_finish(s, op);
    case COIO__OP_CONNECT:
      return connect_finish(op);
    case COIO__OP_RECVFROM:
      op->addr.len = p->fromlen > 0 ? (uint32_t)p->fromlen : 0;
      return (long)bytes;
    default:
      return (long)bytes;
    }
  }
  rc = coio__err_from_ntstatus(status);
  if (rc == 0)
    rc = COIO_EUNKNOWN;
  switch (op->kind) {
  case COIO__OP_ACCEPT:
    closesocket(p->u.acc.sock);
    p->u.acc.sock = INVALID_SOCKET;
    break;
  case COIO__OP_RECVFROM:
    op->addr.len = 0;
    break;
  case COIO__OP_READ:
    /* STATUS_PIPE_BROKEN (109) and friends: the writer is gone, EOF. */
    if (rc == COIO_EPIPE || status == ST_END_OF_FILE)
      rc = 0;
    break;
  default:
    break;
  }
  return rc;
}

static void op_deliver(iocp_state_t *s, coio__op_t *op, long result) {
  ops_remove(s, op);
  op->in_flight = 0;
  op->done(op, result); /* last: it may free or restart the record */
}

static int iocp_associate(void *bstate, coio_socket_t fd) {
  iocp_state_t *s = bstate;
  DWORD e;
  /* Key KEY_OP: every packet of this handle is an operation's. */
  if (CreateIoCompletionPort((HANDLE)fd, s->port, KEY_OP, 0)) {
    skip_decide(s, fd); /* only on the first association: a repeat keeps its mode */
    return 0;
  }
  e = GetLastError();
  /* A handle is associated with one port for its whole life; a second
   * association fails with ERROR_INVALID_PARAMETER, whichever port (also
   * under Wine). The seam allows a repeat on the same loop (the driver
   * associates a socket to connect it, then again for its transport), so
   * for a socket this error is taken to be that repeat. Nothing tells our
   * port from another one: a socket still bound to another loop's port is
   * a misuse this cannot catch (its packets would go there), as a socket
   * belongs to one proactor in asyncio too. Any other handle (a pipe) is
   * associated once; 87 there means it was opened without overlapped I/O
   * (an anonymous pipe, PITFALLS section 2). */
  if (e == ERROR_INVALID_PARAMETER && is_socket((SOCKET)fd))
    return 0;
  return coio__err_from_win32(e);
}

static int iocp_start(void *bstate, coio__op_t *op) {
  iocp_state_t *s = bstate;
  op_priv_t *p;
  long r;
  /* The same checks, in the same order, as uring.c's start. */
  if (!op || !op->done || op->kind < COIO__OP_RECV || op->kind > COIO__OP_CONNECT_PIPE)
    return COIO_EINVAL;
  if (op->in_flight) /* never restart an OVERLAPPED in flight */
    return COIO_EBUSY;
  if (op->fd == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  if (op->kind != COIO__OP_ACCEPT && op->kind != COIO__OP_CONNECT &&
      op->kind != COIO__OP_CONNECT_PIPE && (op->niov < 1 || op->niov > COIO__OP_MAX_IOV))
    return COIO_EINVAL;
  if (s->closing)
    return COIO_ECLOSED;
  p = op_priv(op);
  memset(&p->ov, 0, sizeof p->ov);
  switch (op->kind) {
  case COIO__OP_RECV:
    r = start_recv(p, op);
    break;
  case COIO__OP_SEND:
    r = start_send(p, op);
    break;
  case COIO__OP_ACCEPT:
    r = start_accept(s, p, op);
    break;
  case COIO__OP_CONNECT:
    r = start_connect(s, p, op);
    break;
  case COIO__OP_RECVFROM:
    r = start_recvfrom(p, op);
    break;
  case COIO__OP_SENDTO:
    r = start_sendto(p, op);
    break;
  case COIO__OP_READ:
    r = start_read(p, op);
    break;
  case COIO__OP_WRITE:
    r = start_write(p, op);
    break;
  case COIO__OP_CONNECT_PIPE:
    r = start_connect_pipe(p, op);
    break;
  default:
    return COIO_EINVAL;
  }
  op->in_flight = 1;
  ops_add(s, op);
  if (r == DONE_NOW) {
    /* Skip mode: no packet will come; iocp_poll delivers it (never done()
     * from here: the seam's invariant). Otherwise its packet is queued. */
    if (skip_has(s, (SOCKET)op->fd)) {
      done_push(s, op);
#ifdef COIO_IOCP_COUNT_SKIPS
      s->skipped++;
#endif
    }
    return 0;
  }
  if (r == IN_FLIGHT)
    return 0;
  /* Finished at once without a packet of its own: post one carrying the
   * result (the byte count is a DWORD; the result, <= 0, travels as its
   * bit pattern). */
  if (!PostQueuedCompletionStatus(s->port, (DWORD)(LONG)r, KEY_OP_RESULT, &p->ov)) {
    ops_remove(s, op);
    op->in_flight = 0;
    return coio__err_from_win32(GetLastError());
  }
  return 0;
}

static int iocp_cancel(void *bstate, coio__op_t *op) {
  DWORD e;
  (void)bstate;
  if (!op)
    return COIO_EINVAL;
  if (!op->in_flight)
    return COIO_ENOENT; /* done was called: nothing to cancel (as uring.c) */
  if (CancelIoEx((HANDLE)op->fd, &op_priv(op)->ov))
    return 0;
  e = GetLastError();
  /* ERROR_NOT_FOUND: it completed already (or failed at once and carries
   * a posted result); its packet is queued. Either way done() follows. */
  if (e == ERROR_NOT_FOUND)
    return 0;
  return coio__err_from_win32(e);
}

static const struct coio__proactor_ops iocp_proactor_ops = {iocp_associate, iocp_start, iocp_cancel};

/* An operation's packet: 1 if e was one (delivered), 0 otherwise. */
static int op_packet(iocp_state_t *s, OVERLAPPED_ENTRY *e) {
  coio__op_t *op = (coio__op_t *)e->lpOverlapped;
  if (!op)
    return 0;
  if (e->lpCompletionKey == KEY_OP)
    op_deliver(s, op, op_result(s, op, e->dwNumberOfBytesTransferred));
  else if (e->lpCompletionKey == KEY_OP_RESULT)
    op_deliver(s, op, (long)(LONG)e->dwNumberOfBytesTransferred);
  else
    return 0;
  return 1;
}

/* Delivers the operations that finished inside start(), those queued when
 * this is called only: a done() that restarts its op and finishes at once
 * again is delivered at the next poll, which then does not block. The
 * result is read from the OVERLAPPED as for a packet. */
static void done_drain(iocp_state_t *s) {
  coio__op_t *op = s->done_head;
  s->done_head = s->done_tail = NULL; /* detached: done() may queue anew */
  while (op) {
    coio__op_t *next = op_priv(op)->qnext; /* before done() may requeue op */
    op_deliver(s, op, op_result(s, op, (DWORD)op_priv(op)->ov.InternalHigh));
    op = next;
  }
}

/* Handles n dequeued packets; the first fatal error, or 0. */
static int dispatch(iocp_state_t *s, ULONG n) {
  ULONG i;
  int rc = 0;
  for (i = 0; i < n; i++) {
    OVERLAPPED_ENTRY *e = &s->entries[i];
    switch (e->lpCompletionKey) {
    case KEY_OP:
    case KEY_OP_RESULT:
      op_packet(s, e);
      break;
    case KEY_READY:
      ready_packet(s, e);
      break;
    case KEY_SELECT_FAILED:
      coio__mutex_lock(&s->sel->lock);
      s->sel_failed = s->sel->err;
      coio__mutex_unlock(&s->sel->lock);
      rc = s->sel_failed;
      break;
    default: /* KEY_WAKE: nothing to do, the core takes the queued calls */
      break;
    }
  }
  return rc;
}

static int dequeue(iocp_state_t *s, DWORD timeout_ms, ULONG *n) {
  *n = 0;
  if (GetQueuedCompletionStatusEx(s->port, s->entries, MAX_ENTRIES, n, timeout_ms, FALSE))
    return 0;
  *n = 0;
  if (GetLastError() == WAIT_TIMEOUT) /* nothing came: not an error */
    return 0;
  return coio__err_from_win32(GetLastError());
}

/* close() of the loop with operations still in flight: cancel each and wait
 * for its own packet (PITFALLS section 1: per-operation state lives until
 * its packet is dequeued; the port closes only after draining), delivering
 * it to its owner as usual. An operation whose packet never comes within
 * CLOSE_PATIENCE_MS of silence is abandoned, never delivered: its record
 * and buffers stay allocated, since the kernel may still write into them. */
#define CLOSE_PATIENCE_MS 2000
#define CLOSE_WAIT_MS 100

static void drain_ops(iocp_state_t *s) {
  coio__op_t *op;
  int quiet_ms = 0;
  /* Finished in start() on a skip-mode socket: no packet will come, and
   * the kernel is done with them. Their results, first. */
  while (s->done_head)
    done_drain(s);
  for (op = s->ops; op; op = op_priv(op)->next)
    CancelIoEx((HANDLE)op->fd, &op_priv(op)->ov); /* ERROR_NOT_FOUND: queued already */
  while (s->nops > 0 && quiet_ms < CLOSE_PATIENCE_MS) {
    ULONG n, i;
    if (dequeue(s, CLOSE_WAIT_MS, &n) != 0)
      break;
    if (n == 0) {
      quiet_ms += CLOSE_WAIT_MS;
      continue;
    }
    quiet_ms = 0;
    for (i = 0; i < n; i++)
      op_packet(s, &s->entries[i]); /* wake-ups and readiness: dropped */
  }
}

static void iocp_close(void *state) {
  iocp_state_t *s = state;
  ULONG n;
  /* The thread first: it posts into the port and names io records, which
   * the core frees right after this returns. */
  if (s->sel)
    sel_stop(s->sel);
  s->sel = NULL;
  s->closing = 1; /* done() callbacks below cannot start new operations */
  drain_ops(s);
  /* What is left is wake-ups and readiness packets: dropped. */
  while (dequeue(s, 0, &n) == 0 && n > 0)
    ;
  CloseHandle(s->port);
#ifdef COIO_IOCP_COUNT_SKIPS
  fprintf(stderr, "coio iocp: %llu packets dequeued, %llu avoided (skip-on-success)\n", s->packets,
          s->skipped);
#endif
  free(s->skip);
  free(s);
}

static void iocp_wake(void *state) {
  iocp_state_t *s = state;
  /* Can only fail for lack of memory; the caller has no way to report it,
   * and its call is queued: the loop sees it at its next wake-up. */
  PostQueuedCompletionStatus(s->port, 0, KEY_WAKE, NULL);
}

static DWORD timeout_to_ms(int64_t timeout_ns) {
  if (timeout_ns < 0)
    return INFINITE;
  /* INFINITE is 0xFFFFFFFF: stay below it for a finite wait. */
  if (timeout_ns >= (int64_t)(INFINITE - 1) * 1000000)
    return INFINITE - 1;
  /* Round up: a wait that ends before the timer is due only costs one more
   * iteration, but rounding down would spin with 0 ms waits. */
  return (DWORD)((timeout_ns + 999999) / 1000000);
}

static int iocp_poll(void *state, int64_t timeout_ns) {
  iocp_state_t *s = state;
  ULONG n;
  int rc;
  /* Readiness can no longer be delivered: say so at every poll rather than
   * let watched sockets go silent. */
  if (s->sel_failed)
    return s->sel_failed;
  if (s->sel) {
    if ((rc = check_now(s)) < 0)
      return rc;
    if (rc > 0) /* callbacks are queued: collect packets, do not block */
      timeout_ns = 0;
  }
  if (s->done_head) /* results are waiting in the local queue: do not block */
    timeout_ns = 0;
  if ((rc = dequeue(s, timeout_to_ms(timeout_ns), &n)) != 0)
    return rc;
#ifdef COIO_IOCP_COUNT_SKIPS
  s->packets += n;
#endif
  rc = dispatch(s, n);
  /* After the packets: an op a packet's done() restarted and that finished
   * at once is delivered in this same poll, no later than its packet would
   * have been. */
  done_drain(s);
  return rc;
}

const coio__backend_t coio__backend_iocp = {
    "iocp", COIO_LOOP_PROACTOR, iocp_probe, iocp_open, iocp_close, iocp_poll, iocp_wake, iocp_io_update,
    &coio__proactor_driver, /* proactor/transport.c, written against the seam */
    &iocp_proactor_ops,
};
