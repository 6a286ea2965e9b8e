/* coio/loop.h - the event loop: lifecycle, callbacks, timers, readiness.
 *
 * One thread runs one loop. Every function here must be called from the
 * loop's thread; only coio_call_soon_threadsafe is thread safe (to stop a
 * loop from another thread, schedule a callback that calls coio_loop_stop).
 *
 * Time is in seconds as double, as in asyncio; loop time is monotonic and
 * starts at an arbitrary point. */
#ifndef COIO_LOOP_H
#define COIO_LOOP_H

#include "platform.h"

COIO_BEGIN_DECLS

typedef struct coio_loop coio_loop_t;
typedef struct coio_future coio_future_t;

/* The two families of loop, as asyncio's SelectorEventLoop and
 * ProactorEventLoop. DEFAULT is the proactor (IOCP) on Windows and the
 * selector (epoll) on Linux. */
typedef enum coio_loop_kind {
  COIO_LOOP_DEFAULT = 0,
  COIO_LOOP_SELECTOR = 1,
  COIO_LOOP_PROACTOR = 2
} coio_loop_kind_t;

/* Options for coio_loop_new. Zero-initialise, then set what you need.
 *
 * The environment variable COIO_BACKEND, when set and not empty, overrides
 * both kind and backend: it takes a backend name ("epoll", "io_uring",
 * "iocp") or a kind ("selector", "proactor", "default"). COIO_DEBUG=1 turns
 * debug mode on. */
typedef struct coio_loop_options {
  coio_loop_kind_t kind;
  /* NULL, or a backend name. Asking by name for a backend this system cannot
   * run (io_uring blocked by seccomp, say) fails with COIO_ENOBACKEND; the
   * default kind falls back silently to the next available backend. */
  const char *backend;
  /* Debug mode: warn about callbacks slower than slow_callback_duration. */
  int debug;
  /* Seconds; 0 means the default, 0.1 s. */
  double slow_callback_duration;
  /* Usable stack bytes of this loop's tasks that do not set their own;
   * 0 means 256 KiB. At most 1 GiB (else COIO_EINVAL). */
  size_t task_stack_size;
} coio_loop_options_t;

/* Creates a loop. opts may be NULL (defaults). On success *out owns a new
 * loop; free it with coio_loop_free. Errors: COIO_EINVAL (bad option or
 * unknown backend name), COIO_ENOBACKEND (not available here), COIO_ENOMEM,
 * or the mapped system error. */
COIO_API int coio_loop_new(coio_loop_t **out, const coio_loop_options_t *opts);

/* Closes the loop: drops pending callbacks and timers without running them
 * and releases the backend's system resources. The loop object stays
 * valid for queries until coio_loop_free. Idempotent. COIO_EBUSY while the
 * loop is running. */
COIO_API int coio_loop_close(coio_loop_t *loop);

/* Closes (if needed) and frees the loop. COIO_EBUSY while running (nothing
 * is freed then). Futures of this loop must be released before. NULL is a
 * no-op returning 0. */
COIO_API int coio_loop_free(coio_loop_t *loop);

/* Runs until coio_loop_stop is called. Returns 0 then; COIO_EBUSY if the
 * loop is already running (on this or any thread), COIO_ECLOSED if closed.
 * Each iteration runs one batch of ready callbacks. The loop asks the OS for
 * I/O events when it has nothing ready, and while callbacks keep it busy at
 * least once per 16 callbacks run (not at every iteration, as asyncio does:
 * a busy iteration then costs no system call); I/O is never starved. */
COIO_API int coio_loop_run_forever(coio_loop_t *loop);

/* Runs until fut is done and returns its status: 0, its error code, or
 * COIO_ECANCELED. COIO_ESTOPPED if the loop was stopped first; COIO_EINVAL if
 * fut belongs to another loop; COIO_EBUSY / COIO_ECLOSED as run_forever. */
COIO_API int coio_loop_run_until_complete(coio_loop_t *loop, coio_future_t *fut);

/* Asks a running loop to stop: the current batch of callbacks finishes, then
 * run_forever returns; callbacks they schedule run at the next run. Called
 * before run_forever, the next run polls once without blocking, runs one
 * batch and returns (asyncio semantics). */
COIO_API int coio_loop_stop(coio_loop_t *loop);

COIO_API int coio_loop_is_running(const coio_loop_t *loop); /* 1 or 0 */
COIO_API int coio_loop_is_closed(const coio_loop_t *loop);  /* 1 or 0 */

/* The backend in use: "epoll", "io_uring" or "iocp". */
COIO_API const char *coio_loop_backend(const coio_loop_t *loop);
/* The loop's family: COIO_LOOP_SELECTOR or COIO_LOOP_PROACTOR. */
COIO_API coio_loop_kind_t coio_loop_kind(const coio_loop_t *loop);

/* Monotonic loop time in seconds. */
COIO_API double coio_loop_time(const coio_loop_t *loop);

/* Names of the backends this build has, in order of preference; returns
 * how many there are (writes at most max of them). */
COIO_API size_t coio_backend_list(const char **names, size_t max);
/* 0 if the named backend can run on this system now, else why not
 * (COIO_ENOBACKEND, COIO_EINVAL for an unknown name). */
COIO_API int coio_backend_probe(const char *name);

/* ---- callbacks and timers -------------------------------------------- */

typedef void (*coio_callback_t)(coio_loop_t *loop, void *user_data);

/* A scheduled callback. It is a generation-checked id, not a pointer: it
 * stays safe to cancel after the callback ran or the loop moved on.
 * The zero value is "no handle". */
typedef struct coio_handle {
  uint64_t id;
} coio_handle_t;

/* Schedules cb to run at the next iteration, in FIFO order. handle may be
 * NULL. Errors: COIO_EINVAL, COIO_ECLOSED, COIO_ENOMEM. */
COIO_API int coio_call_soon(coio_loop_t *loop, coio_callback_t cb, void *user_data,
                            coio_handle_t *handle);

/* Schedules cb after delay seconds (>= 0, finite; else COIO_EINVAL). Never
 * runs early. Callbacks due at the same time run in scheduling order. */
COIO_API int coio_call_later(coio_loop_t *loop, double delay, coio_callback_t cb,
                             void *user_data, coio_handle_t *handle);

/* Schedules cb at loop time when (see coio_loop_time). A time in the past
 * runs at the next iteration. */
COIO_API int coio_call_at(coio_loop_t *loop, double when, coio_callback_t cb, void *user_data,
                          coio_handle_t *handle);

/* Cancels a scheduled callback. 0 if it was pending and will not run;
 * COIO_ENOENT if it already ran, was cancelled, or never existed (harmless);
 * COIO_EINVAL for a NULL loop. */
COIO_API int coio_handle_cancel(coio_loop_t *loop, coio_handle_t handle);

/* Thread safe: schedules cb from any thread and wakes the loop if it is
 * blocked in the kernel. COIO_ECLOSED once the loop is closed. The loop must
 * not be freed while other threads may still call this. */
COIO_API int coio_call_soon_threadsafe(coio_loop_t *loop, coio_callback_t cb, void *user_data);

/* ---- readiness (every backend) ------------------------------------------
 * asyncio's add_reader/add_writer: epoll natively, io_uring with poll
 * requests, IOCP with a helper thread running select() that posts into the
 * completion port (sockets only there: other handles give COIO_ENOTSOCK). */

/* Calls cb whenever fd is readable (level triggered), replacing an existing
 * reader for fd. COIO_ENOTSUP for an fd the backend cannot watch (a regular
 * file); COIO_EMFILE past the IOCP helper's limit of 1023 sockets. */
COIO_API int coio_loop_add_reader(coio_loop_t *loop, coio_socket_t fd, coio_callback_t cb,
                                  void *user_data);
/* 0 if a reader was removed, COIO_ENOENT if there was none. */
COIO_API int coio_loop_remove_reader(coio_loop_t *loop, coio_socket_t fd);
COIO_API int coio_loop_add_writer(coio_loop_t *loop, coio_socket_t fd, coio_callback_t cb,
                                  void *user_data);
COIO_API int coio_loop_remove_writer(coio_loop_t *loop, coio_socket_t fd);

/* ---- debug mode -------------------------------------------------------- */

COIO_API int coio_loop_set_debug(coio_loop_t *loop, int enabled);
COIO_API int coio_loop_get_debug(const coio_loop_t *loop);
/* Seconds (> 0). In debug mode a callback running longer is reported. */
COIO_API int coio_loop_set_slow_callback_duration(coio_loop_t *loop, double seconds);

/* Receives the loop's warnings (slow callbacks). The default writes the
 * message to stderr. NULL restores the default. */
typedef void (*coio_warning_handler_t)(coio_loop_t *loop, const char *message, void *user_data);
COIO_API int coio_loop_set_warning_handler(coio_loop_t *loop, coio_warning_handler_t handler,
                                           void *user_data);

COIO_END_DECLS

#endif /* COIO_LOOP_H */
