/* common/signal_win.c - add_signal_handler on Windows: console control
 * events (Ctrl+C, Ctrl+Break, the console window closing, shutdown).
 *
 * Windows has no asynchronous signals: the console calls the handlers
 * registered with SetConsoleCtrlHandler on a new thread of its own, most
 * recently registered first, until one returns TRUE; the last one ends the
 * process (PITFALLS 2). coio registers one handler per process, on the first
 * add_signal_handler, and keeps it: it answers TRUE only for the events a
 * loop has a handler for, and FALSE for the others, so those go on down the
 * chain to whatever was there before (the C runtime's handler for
 * signal(SIGINT, ...), a handler of the program's, the default one). That is
 * the "previous disposition" the removal restores, and it means coio never
 * calls SetConsoleCtrlHandler again after the first time: that call waits
 * for the console's lock, which the console holds while it runs the
 * handlers (Wine's CtrlRoutine does; ReactOS' too), and our CTRL_CLOSE
 * handler may hold on for seconds (below).
 *
 * The console thread only posts to the owning loop with
 * coio_call_soon_threadsafe and never takes g_lock, so that a console
 * handler waiting for a loop cannot deadlock a loop thread that is
 * registering. The loop thread must not free the loop while the console
 * thread may still post to it: the owner pointer is published with an
 * interlocked exchange, the console thread counts itself in g_in_handler
 * before it reads it, and a removal clears the owner and waits until that
 * count is zero (the same scheme as signal_posix.c).
 *
 * The C runtime's raise() is not a source: on Windows raise(SIGINT) only
 * calls the handler installed with signal(), synchronously, and making coio
 * install one would put the runtime's one-shot semantics (it resets the
 * handler to SIG_DFL before calling it) and its own console handler, which
 * the runtime registers on its first signal(SIGINT), in the path of real
 * console events. Programs that want to signal themselves post to the loop
 * (coio_call_soon_threadsafe) or send a console event. */
#include <signal.h>
#include <stdint.h>

#include "coio/error.h"
#include "coio/signal.h"
#include "error_internal.h"
#include "loop_internal.h"

enum { SLOT_INT, SLOT_BREAK, SLOT_TERM, NSLOTS };

typedef struct sig_slot {
  PVOID volatile owner; /* coio_loop_t *, NULL: no handler; interlocked */
  coio_callback_t cb;   /* cb and arg: under g_lock */
  void *arg;
  volatile LONG gen;     /* changes with each owner: stale posts are dropped */
  volatile LONG pending; /* a post is on its way: coalesce */
} sig_slot_t;

/* Loop threads only; the console thread never takes it. */
static SRWLOCK g_lock = SRWLOCK_INIT;
static sig_slot_t g_slot[NSLOTS];
static int g_console_registered; /* under g_lock */

static volatile LONG g_in_handler; /* console threads between reading owner and posting */
static volatile LONG g_term_runs;  /* SIGTERM callbacks that have returned */

/* Test hooks, exposed for tests/test_signal.c (which declares them too):
 * Wine cannot generate CTRL_BREAK_EVENT or CTRL_CLOSE_EVENT (PITFALLS 2/5),
 * so the test calls the handler itself, on a thread, as the console does,
 * and shortens the CTRL_CLOSE grace period. */
BOOL WINAPI coio__signal_console_handler(DWORD type);
extern volatile LONG coio__signal_close_grace_ms;

/* After the SIGTERM callback ran for CTRL_CLOSE/CTRL_SHUTDOWN: how long the
 * console handler keeps waiting for the program to finish by itself. */
volatile LONG coio__signal_close_grace_ms = 10000;
/* How long it waits for the loop to run the SIGTERM callback at all. */
#define COIO__TERM_CALLBACK_WAIT_MS 5000

static int slot_of(int signum) {
  switch (signum) {
  case SIGINT:
    return SLOT_INT;
  case SIGBREAK:
    return SLOT_BREAK;
  case SIGTERM:
    return SLOT_TERM;
  default:
    return -1;
  }
}

static coio_loop_t *owner_of(sig_slot_t *slot) {
  return (coio_loop_t *)InterlockedCompareExchangePointer(&slot->owner, NULL, NULL);
}

/* ---- the loop side --------------------------------------------------------- */

/* Runs on the owning loop: arg is (gen << 2 | slot). A post made for an
 * owner that was removed (or removed and added again) meanwhile is dropped. */
static void dispatch_one(coio_loop_t *loop, void *arg) {
  uintptr_t a = (uintptr_t)arg;
  sig_slot_t *slot = &g_slot[a & 3];
  coio_callback_t cb = NULL;
  void *cb_arg = NULL;
  AcquireSRWLockExclusive(&g_lock);
  if (owner_of(slot) == loop && (((uintptr_t)(ULONG)slot->gen << 2) >> 2) == (a >> 2)) {
    /* Cleared before the call: an event from now on posts again. */
    InterlockedExchange(&slot->pending, 0);
    cb = slot->cb;
    cb_arg = slot->arg;
  }
  ReleaseSRWLockExclusive(&g_lock);
  if (cb) { /* not under g_lock: the callback may add or remove handlers */
    cb(loop, cb_arg);
    if ((a & 3) == SLOT_TERM)
      InterlockedIncrement(&g_term_runs);
  }
}

/* ---- the console side ------------------------------------------------------ */

/* On the console's thread: wakes the owner of the slot, if any. Returns
 * TRUE if a loop owns it (the event is handled), FALSE to pass it on. */
static BOOL post_signal(int idx) {
  sig_slot_t *slot = &g_slot[idx];
  coio_loop_t *owner;
  InterlockedIncrement(&g_in_handler);
  owner = owner_of(slot);
  if (owner && InterlockedExchange(&slot->pending, 1) == 0) {
    uintptr_t arg = ((uintptr_t)(ULONG)InterlockedCompareExchange(&slot->gen, 0, 0) << 2) | (uintptr_t)idx;
    if (coio_call_soon_threadsafe(owner, dispatch_one, (void *)arg) != 0)
      InterlockedExchange(&slot->pending, 0); /* closed loop or no memory: lost */
  }
  InterlockedDecrement(&g_in_handler);
  return owner != NULL;
}

/* CTRL_CLOSE_EVENT and CTRL_SHUTDOWN_EVENT end the process as soon as the
 * handler returns (or when the system's own timeout, about 5 s for a closed
 * console, runs out). So the handler first waits for the loop to have run
 * the SIGTERM callback and then, since what the callback starts (stopping
 * the loop, the program's cleanup after run_forever, flushing stdout)
 * happens after it, keeps waiting for the program to exit by itself: exit
 * ends this thread too. Both waits are bounded, so that the handler never
 * hangs where nobody enforces the system's limit (libuv sleeps forever
 * instead, src/win/signal.c); if the callback never ran, there is nothing
 * to wait for. */
static void wait_for_termination(LONG runs_before) {
  DWORD waited = 0;
  while (InterlockedCompareExchange(&g_term_runs, 0, 0) == runs_before) {
    if (waited >= COIO__TERM_CALLBACK_WAIT_MS)
      return;
    Sleep(10);
    waited += 10;
  }
  Sleep((DWORD)InterlockedCompareExchange(&coio__signal_close_grace_ms, 0, 0));
}

BOOL WINAPI coio__signal_console_handler(DWORD type) {
  switch (type) {
  case CTRL_C_EVENT:
    return post_signal(SLOT_INT);
  case CTRL_BREAK_EVENT:
    return post_signal(SLOT_BREAK);
  case CTRL_CLOSE_EVENT:
  case CTRL_SHUTDOWN_EVENT: {
    LONG before = InterlockedCompareExchange(&g_term_runs, 0, 0);
    if (!post_signal(SLOT_TERM))
      return FALSE;
    wait_for_termination(before);
    return TRUE;
  }
  default:
    /* CTRL_LOGOFF_EVENT: services get it whenever any user logs off and
     * must not stop; a console program is ended by the default handler. */
    return FALSE;
  }
}

/* Waits until no console thread is between reading an owner and posting
 * to it; such a thread only posts, so this is short. */
static void wait_for_handlers(void) {
  while (InterlockedCompareExchange(&g_in_handler, 0, 0) != 0)
    SwitchToThread();
}

/* Under g_lock: slot idx has an owner; afterwards it has none, no console
 * thread will post to the former owner, and posts already made are
 * dropped when they run (gen). */
static void release(int idx) {
  sig_slot_t *slot = &g_slot[idx];
  InterlockedExchangePointer(&slot->owner, NULL);
  wait_for_handlers();
  InterlockedIncrement(&slot->gen);
  InterlockedExchange(&slot->pending, 0);
  slot->cb = NULL;
  slot->arg = NULL;
}

/* ---- the API ------------------------------------------------------------------- */

int coio_loop_add_signal_handler(coio_loop_t *loop, int signum, coio_callback_t cb,
                                 void *user_data) {
  int idx = slot_of(signum), rc = 0;
  sig_slot_t *slot;
  coio_loop_t *owner;
  if (!loop || !cb || idx < 0)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  slot = &g_slot[idx];
  AcquireSRWLockExclusive(&g_lock);
  if (!g_console_registered) {
    /* Registering works without a console too (a service, a program
     * started detached): then no event ever comes. */
    if (!SetConsoleCtrlHandler(coio__signal_console_handler, TRUE)) {
      rc = coio__err_from_win32(GetLastError());
      goto out;
    }
    g_console_registered = 1;
  }
  owner = owner_of(slot);
  if (owner && owner != loop) {
    rc = COIO_EBUSY; /* one owner per signal in the process */
  } else {
    slot->cb = cb;
    slot->arg = user_data;
    if (!owner) {
      /* A new owner: a new generation and no stale pending flag, then
       * publish it for the console thread (a full barrier). */
      InterlockedIncrement(&slot->gen);
      InterlockedExchange(&slot->pending, 0);
      InterlockedExchangePointer(&slot->owner, loop);
    }
  }
out:
  ReleaseSRWLockExclusive(&g_lock);
  return rc;
}

int coio_loop_remove_signal_handler(coio_loop_t *loop, int signum) {
  int idx = slot_of(signum), rc = 0;
  if (!loop || idx < 0)
    return COIO_EINVAL;
  AcquireSRWLockExclusive(&g_lock);
  if (owner_of(&g_slot[idx]) != loop)
    rc = COIO_ENOENT;
  else
    release(idx);
  ReleaseSRWLockExclusive(&g_lock);
  return rc;
}

void coio__signal_loop_close(coio_loop_t *loop) {
  int i;
  AcquireSRWLockExclusive(&g_lock);
  for (i = 0; i < NSLOTS; i++)
    if (owner_of(&g_slot[i]) == loop)
      release(i);
  ReleaseSRWLockExclusive(&g_lock);
}
