/* proactor/iocp.c - the IOCP backend (Windows): one I/O completion port per
 * loop, waited on with GetQueuedCompletionStatusEx in batches.
 *
 * A packet is told apart by its completion key:
 *  - KEY_OP: a handle associated with the port completed an overlapped
 *    operation. lpOverlapped is the OVERLAPPED embedded first in an
 *    operation record (iocp_op_t) that names its completion callback.
 *    GetQueuedCompletionStatusEx entries carry no error code: the NTSTATUS
 *    is in lpOverlapped->Internal (../shared/PITFALLS.md section 1).
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
#include <windows.h>

#include <stdlib.h>
#include <string.h>

#include "coio/net.h"
#include "common/backend.h"
#include "common/error_internal.h"
#include "common/sys.h"

#if FD_SETSIZE < 1024
#error "winsock2.h was included before FD_SETSIZE was raised"
#endif

#define MAX_ENTRIES 128 /* packets dequeued per GetQueuedCompletionStatusEx */

enum {
  KEY_OP = 0,           /* operation completions: handles are associated with key 0 */
  KEY_WAKE = 1,         /* wake(): lpOverlapped == NULL */
  KEY_READY = 2,        /* a socket became ready: lpOverlapped is its coio__io_t */
  KEY_SELECT_FAILED = 3 /* the select() thread met a fatal error and ended */
};

/* An overlapped operation in flight. The OVERLAPPED comes first, so the
 * packet's lpOverlapped is the record. The record, and the buffer it names,
 * belong to whoever started the operation and must stay alive until
 * complete() has been called, even after a cancel (PITFALLS section 1:
 * CancelIoEx is asynchronous). err is 0 or a COIO_E* code; the raw NTSTATUS
 * stays in op->ov.Internal for callers that need it (a truncated datagram
 * is STATUS_BUFFER_OVERFLOW, a warning, with the data delivered).
 * This moves to the proactor seam (proactor/proactor.h) with the
 * transports; until then only the dispatch below uses it. */
typedef struct iocp_op iocp_op_t;
struct iocp_op {
  OVERLAPPED ov;
  void (*complete)(iocp_op_t *op, DWORD bytes, int err);
};

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

static void complete_op(OVERLAPPED_ENTRY *e) {
  iocp_op_t *op = (iocp_op_t *)e->lpOverlapped;
  /* Internal holds an NTSTATUS; success and informational codes are >= 0,
   * warnings and errors negative (NT_SUCCESS). */
  LONG status = (LONG)op->ov.Internal;
  op->complete(op, e->dwNumberOfBytesTransferred, status >= 0 ? 0 : coio__err_from_ntstatus(status));
}

/* Handles n dequeued packets; the first fatal error, or 0. */
static int dispatch(iocp_state_t *s, ULONG n) {
  ULONG i;
  int rc = 0;
  for (i = 0; i < n; i++) {
    OVERLAPPED_ENTRY *e = &s->entries[i];
    switch (e->lpCompletionKey) {
    case KEY_OP:
      if (e->lpOverlapped)
        complete_op(e);
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

static void iocp_close(void *state) {
  iocp_state_t *s = state;
  ULONG n, i;
  /* The thread first: it posts into the port and names io records, which
   * the core frees right after this returns. */
  if (s->sel)
    sel_stop(s->sel);
  s->sel = NULL;
  /* Drain what is queued: wake-ups and readiness packets, dropped. Once
   * transports start operations, close must first wait for every
   * operation in flight to deliver its packet (PITFALLS section 1: free
   * per-operation state only when its packet is dequeued, close the port
   * only after draining); operation packets found here already go to
   * their owners. */
  while (dequeue(s, 0, &n) == 0 && n > 0)
    for (i = 0; i < n; i++)
      if (s->entries[i].lpCompletionKey == KEY_OP && s->entries[i].lpOverlapped)
        complete_op(&s->entries[i]);
  CloseHandle(s->port);
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
  if ((rc = dequeue(s, timeout_to_ms(timeout_ns), &n)) != 0)
    return rc;
  return dispatch(s, n);
}

const coio__backend_t coio__backend_iocp = {
    "iocp", COIO_LOOP_PROACTOR, iocp_probe, iocp_open, iocp_close, iocp_poll, iocp_wake, iocp_io_update,
};
