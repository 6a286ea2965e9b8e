/* common/backend.h - the seam between the loop core and its backends.
 *
 * A backend is a table of functions chosen when a loop is created (Linux has
 * two at run time: epoll and io_uring). common/ talks to a backend only
 * through this table; backends call back into the core only through the
 * coio__loop_* functions declared at the bottom.
 *
 * Readiness: the per-fd bookkeeping (which callbacks watch which fd) is the
 * core's (common/io_watch.c), shared by every backend. A backend learns that
 * the set of events wanted on an fd changed (io_update) and reports that an
 * fd became ready (coio__loop_io_ready). Semantics are level triggered: a
 * reader that leaves data unread is called again at the next iteration.
 *
 * Completions (the proactor seam): transports will add a second table here,
 * "start recv/send/accept/connect/read/write on a handle with a buffer and an
 * operation record; cancel; wait for a process exit", implemented by iocp.c
 * and uring.c; see proactor/README.md. It is left out until the transports
 * need it, so that no unimplemented entry sits in the table. */
#ifndef COIO_COMMON_BACKEND_H
#define COIO_COMMON_BACKEND_H

#include "coio/loop.h"

enum {
  COIO__READABLE = 1,
  COIO__WRITABLE = 2
};

/* One watched fd. Owned by the core; its address is stable until the loop
 * is closed (so a backend may put it in a kernel request and still find it
 * when the request completes after the watch was removed). */
typedef struct coio__io {
  coio_socket_t fd;
  unsigned interest; /* COIO__READABLE|COIO__WRITABLE wanted now */
  coio_callback_t read_cb;
  void *read_arg;
  coio_callback_t write_cb;
  void *write_arg;
  /* the queued, not yet run, callback of each side (cancelled on removal) */
  coio_handle_t read_pending;
  coio_handle_t write_pending;
  /* backend-private state for this fd (e.g. what is armed in the kernel) */
  unsigned armed;
  uint64_t bdata;
} coio__io_t;

struct coio__driver;        /* transports' I/O: common/transport_internal.h */
struct coio__proactor_ops; /* completions: proactor/proactor.h */

typedef struct coio__backend {
  const char *name;      /* "epoll", "io_uring", "iocp" */
  coio_loop_kind_t kind; /* COIO_LOOP_SELECTOR or COIO_LOOP_PROACTOR */

  /* Cheap check that the backend can run here now (io_uring may be
   * blocked by seccomp). 0 or COIO_ENOBACKEND / a mapped error. */
  int (*probe)(void);
  /* Creates the backend's state for loop. */
  int (*open)(coio_loop_t *loop, void **state);
  /* Releases everything open created. Not called while polling. */
  void (*close)(void *state);
  /* Waits up to timeout_ns (< 0: no limit, 0: do not block) for events and
   * reports them with coio__loop_io_ready. Returns 0 (also when woken,
   * interrupted or timed out) or a COIO_E* code for a fatal error. */
  int (*poll)(void *state, int64_t timeout_ns);
  /* Thread safe, async-signal safe where the OS allows: makes a poll that
   * is blocked (or the next one) return promptly. */
  void (*wake)(void *state);
  /* The core changed io->interest from old_interest. NULL when the backend
   * has no readiness (the core answers COIO_ENOTSUP). */
  int (*io_update)(void *state, coio__io_t *io, unsigned old_interest);
  /* How transports move bytes on this backend (selector/transport.c or
   * proactor/transport.c); NULL: transports are not available yet. */
  const struct coio__driver *driver;
  /* Proactor backends: the completion operations (proactor/proactor.h). */
  const struct coio__proactor_ops *proactor;
} coio__backend_t;

/* The backends this build has (common/backends.c), NULL-terminated, in
 * order of preference within their kind. Defined by the backend rooms. */
extern const coio__backend_t *const coio__backends[];

/* ---- what backends may call ------------------------------------------- */

/* From poll: io became ready for events (COIO__READABLE|COIO__WRITABLE).
 * Errors and hang-ups are reported as both readable and writable, so that
 * the callback's own system call sees the error. */
void coio__loop_io_ready(coio_loop_t *loop, coio__io_t *io, unsigned events);

/* The loop's backend table and the state its open() made (for drivers). */
const coio__backend_t *coio__loop_backend_table(const coio_loop_t *loop);
void *coio__loop_backend_state(const coio_loop_t *loop);

/* The core's monotonic clock, in nanoseconds (common/clock_*.c). */
uint64_t coio__now_ns(void);

#endif /* COIO_COMMON_BACKEND_H */
