/* common/signal_posix.c - add_signal_handler on POSIX, for every Linux
 * backend (epoll and io_uring alike: this is OS code, not backend code).
 *
 * The sigaction handler does only async-signal-safe things, on whatever
 * thread the kernel picked: it saves errno, sets the signal's pending flag
 * (a lock-free atomic) and writes to the owning loop's eventfd. The loop
 * watches that eventfd with its readiness API (coio_loop_add_reader: epoll
 * natively, io_uring with poll requests); when it is readable the loop
 * drains it, takes the pending flags of the signals it owns and queues one
 * callback per signal, which finds the current handler when it runs.
 *
 * Why not signalfd: the signal would have to be blocked in every thread of
 * the process, and the mask is inherited by exec'd children (PITFALLS 4).
 * Why flags plus an eventfd rather than signal numbers written to a pipe: a
 * full pipe drops bytes, so a flood of SIGUSR1 could hide a SIGTERM; a flag
 * cannot be lost and an eventfd counter cannot fill. The price is that
 * deliveries before the loop looks are coalesced, which POSIX does anyway
 * for standard signals (documented in coio/signal.h). The eventfd is the
 * Linux wake-up shared with the backends (wakefd_linux.c); another POSIX
 * system would use a non-blocking, close-on-exec pipe here instead.
 *
 * Lifetime across threads: the handler may be running on another thread
 * at any moment, reading the owner's fd from g_wake. Before a loop's eventfd
 * is closed, the entries naming it are cleared and we wait until no handler
 * is inside its critical part (g_in_handler, incremented before it reads
 * g_wake, sequentially consistent), so a handler never writes into a closed
 * and perhaps reused descriptor. Everything else (the table of owners, the
 * saved dispositions) is under g_lock and touched only by loop threads.
 *
 * SIGPIPE is not touched here (transports send with MSG_NOSIGNAL); we never
 * block signals, so exec'd children inherit no mask from us, and exec
 * resets caught signals to SIG_DFL by itself. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coio/error.h"
#include "coio/signal.h"
#include "error_internal.h"
#include "loop_internal.h"
#include "wakefd_linux.h"

#ifndef NSIG
#define NSIG 65 /* glibc's value; NSIG is not POSIX */
#endif

/* The handler relies on atomics that never take a lock (a lock taken by the
 * interrupted thread would deadlock it). */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_int must be lock-free for signal handlers");

/* One per loop that owns at least one signal. */
typedef struct sig_loop {
  coio_loop_t *loop;
  int fd;        /* eventfd written by the handler, watched by the loop */
  unsigned nsig; /* signals this loop owns */
  struct sig_loop *next;
} sig_loop_t;

typedef struct sig_slot {
  sig_loop_t *owner; /* NULL: no coio handler for this signal */
  coio_callback_t cb;
  void *arg;
  struct sigaction old; /* the disposition our handler replaced */
} sig_slot_t;

/* Loop threads only (never the signal handler). */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static sig_slot_t g_slot[NSIG];
static sig_loop_t *g_loops;

/* Read by the signal handler, lock-free. g_wake[s] is the owner's eventfd
 * plus one (0: nobody; static storage starts at 0). */
static atomic_int g_wake[NSIG];
static atomic_int g_pending[NSIG];
static atomic_int g_in_handler;

static void on_os_signal(int signum) {
  int saved_errno = errno; /* the interrupted code may be reading errno */
  int fd1;
  atomic_fetch_add(&g_in_handler, 1);
  fd1 = atomic_load(&g_wake[signum]);
  if (fd1 > 0) {
    /* The flag before the wake-up: a loop that sees the eventfd readable
     * then finds the flag set. */
    atomic_store(&g_pending[signum], 1);
    coio__wakefd_signal(fd1 - 1);
  }
  atomic_fetch_sub(&g_in_handler, 1);
  errno = saved_errno;
}

/* Waits until no signal handler is between reading g_wake and its write:
 * afterwards no handler can touch an fd whose g_wake entries were cleared.
 * Handlers are a few instructions long, so this spins briefly at most. */
static void wait_for_handlers(void) {
  while (atomic_load(&g_in_handler) != 0)
    sched_yield();
}

static int in_range(int signum) { return signum > 0 && signum < NSIG; }

static int check_catchable(int signum) {
  if (!in_range(signum))
    return COIO_EINVAL;
  switch (signum) {
  case SIGKILL:
  case SIGSTOP: /* cannot be caught */
  case SIGSEGV:
  case SIGBUS:
  case SIGFPE:
  case SIGILL: /* synchronous faults: cannot wait for a loop */
    return COIO_EINVAL;
  default:
    break;
  }
#if defined(__linux__) && defined(SIGRTMIN)
  /* glibc keeps the real-time signals below SIGRTMIN (32, 33) for its
   * threads. Its sigaction refuses them, but a sanitizer's interceptor may
   * not: refuse them here. */
  if (signum > 31 && signum < SIGRTMIN)
    return COIO_EINVAL;
#endif
  return 0;
}

/* ---- the loop side --------------------------------------------------------- */

/* Runs the current handler of one signal; queued by on_wake. arg is the
 * signal number: the handler is looked up now, so one removed meanwhile is
 * not called. */
static void dispatch_one(coio_loop_t *loop, void *arg) {
  int signum = (int)(intptr_t)arg;
  coio_callback_t cb = NULL;
  void *cb_arg = NULL;
  pthread_mutex_lock(&g_lock);
  if (g_slot[signum].owner && g_slot[signum].owner->loop == loop) {
    cb = g_slot[signum].cb;
    cb_arg = g_slot[signum].arg;
  }
  pthread_mutex_unlock(&g_lock);
  /* Not under g_lock: the callback may add or remove handlers. */
  if (cb)
    cb(loop, cb_arg);
}

/* The reader callback on a loop's eventfd. It runs no user code itself (so
 * sl cannot be freed under it): it queues one dispatch_one per signal. */
static void on_wake(coio_loop_t *loop, void *arg) {
  sig_loop_t *sl = arg;
  int s;
  coio__wakefd_drain(sl->fd);
  pthread_mutex_lock(&g_lock);
  for (s = 1; s < NSIG; s++) {
    if (g_slot[s].owner != sl || !atomic_exchange(&g_pending[s], 0))
      continue;
    if (coio_call_soon(loop, dispatch_one, (void *)(intptr_t)s, NULL) != 0) {
      /* Out of memory: keep the signal pending and look again at the next
       * iteration (the eventfd is level triggered). */
      atomic_store(&g_pending[s], 1);
      coio__wakefd_signal(sl->fd);
    }
  }
  pthread_mutex_unlock(&g_lock);
}

static sig_loop_t *find_loop(coio_loop_t *loop) {
  sig_loop_t *sl;
  for (sl = g_loops; sl; sl = sl->next)
    if (sl->loop == loop)
      return sl;
  return NULL;
}

/* Gives loop its eventfd and starts watching it. Under g_lock. */
static int loop_attach(coio_loop_t *loop, sig_loop_t **out) {
  int rc;
  sig_loop_t *sl = calloc(1, sizeof *sl);
  if (!sl)
    return COIO_ENOMEM;
  sl->loop = loop;
  if ((rc = coio__wakefd_open(&sl->fd)) != 0) {
    free(sl);
    return rc;
  }
  if ((rc = coio_loop_add_reader(loop, sl->fd, on_wake, sl)) != 0) {
    close(sl->fd);
    free(sl);
    return rc;
  }
  sl->next = g_loops;
  g_loops = sl;
  *out = sl;
  return 0;
}

/* The loop owns no signal any more: stop watching and close its eventfd.
 * Under g_lock, with every g_wake entry naming sl->fd already cleared. */
static void loop_detach(sig_loop_t *sl) {
  sig_loop_t **p;
  for (p = &g_loops; *p != sl; p = &(*p)->next)
    ;
  *p = sl->next;
  /* Also cancels an on_wake already queued. On a closed loop this answers
   * COIO_ECLOSED: the watch went with the loop already. */
  (void)coio_loop_remove_reader(sl->loop, sl->fd);
  wait_for_handlers();
  close(sl->fd);
  free(sl);
}

/* Removes the handler of signum (owned by someone), restoring the old
 * disposition. Under g_lock. */
static void release(int signum) {
  sig_slot_t *slot = &g_slot[signum];
  sig_loop_t *sl = slot->owner;
  /* Restore first: from now on the old disposition receives the signal. A
   * handler of ours still running on another thread sets a flag that
   * nobody reads any more (add clears it before reuse). */
  (void)sigaction(signum, &slot->old, NULL);
  atomic_store(&g_wake[signum], 0);
  slot->owner = NULL;
  slot->cb = NULL;
  slot->arg = NULL;
  if (--sl->nsig == 0)
    loop_detach(sl);
}

/* ---- the API ------------------------------------------------------------------- */

int coio_loop_add_signal_handler(coio_loop_t *loop, int signum, coio_callback_t cb,
                                 void *user_data) {
  struct sigaction sa;
  sig_slot_t *slot;
  sig_loop_t *sl;
  int rc;
  if (!loop || !cb)
    return COIO_EINVAL;
  if ((rc = check_catchable(signum)) != 0)
    return rc;
  if (loop->closed)
    return COIO_ECLOSED;
  pthread_mutex_lock(&g_lock);
  slot = &g_slot[signum];
  if (slot->owner) {
    if (slot->owner->loop != loop) {
      rc = COIO_EBUSY; /* one disposition per process, one owner per signal */
    } else {
      /* Replacing: our sigaction stays, the saved old disposition too. */
      slot->cb = cb;
      slot->arg = user_data;
    }
    goto out;
  }
  sl = find_loop(loop);
  if (!sl && (rc = loop_attach(loop, &sl)) != 0)
    goto out;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_os_signal;
  sigemptyset(&sa.sa_mask);
  /* SA_RESTART: the program's blocking system calls on other threads go on
   * rather than failing with EINTR because of a signal that is ours. */
  sa.sa_flags = SA_RESTART;
  atomic_store(&g_pending[signum], 0); /* drop a stale flag of a former owner */
  atomic_store(&g_wake[signum], sl->fd + 1);
  if (sigaction(signum, &sa, &slot->old) != 0) {
    rc = coio__err_from_errno(errno); /* EINVAL: a signal the C library keeps */
    atomic_store(&g_wake[signum], 0);
    if (sl->nsig == 0)
      loop_detach(sl);
    goto out;
  }
  slot->owner = sl;
  slot->cb = cb;
  slot->arg = user_data;
  sl->nsig++;
out:
  pthread_mutex_unlock(&g_lock);
  return rc;
}

int coio_loop_remove_signal_handler(coio_loop_t *loop, int signum) {
  int rc = 0;
  if (!loop || !in_range(signum))
    return COIO_EINVAL;
  pthread_mutex_lock(&g_lock);
  if (!g_slot[signum].owner || g_slot[signum].owner->loop != loop)
    rc = COIO_ENOENT;
  else
    release(signum);
  pthread_mutex_unlock(&g_lock);
  return rc;
}

void coio__signal_loop_close(coio_loop_t *loop) {
  int s;
  pthread_mutex_lock(&g_lock);
  for (s = 1; s < NSIG; s++)
    if (g_slot[s].owner && g_slot[s].owner->loop == loop)
      release(s);
  pthread_mutex_unlock(&g_lock);
}
