/* common/loop_internal.h - the loop object and the core's internal API,
 * shared by the files of common/ (never by backends: they see backend.h). */
#ifndef COIO_COMMON_LOOP_INTERNAL_H
#define COIO_COMMON_LOOP_INTERNAL_H

#include "coio/loop.h"
#include "backend.h"
#include "sys.h"

/* A scheduled callback record. Records live in chunks that never move, are
 * addressed by a 32-bit slot index, and carry a generation that changes each
 * time the slot is freed: a coio_handle_t is (generation << 32 | slot), so a
 * stale handle can never reach a reused record. */
enum {
  COIO__CB_FREE = 0,
  COIO__CB_READY,     /* in the ready ring */
  COIO__CB_TIMER,     /* in the timer heap */
  COIO__CB_CANCELLED  /* in the ready ring, to be skipped */
};

typedef struct coio__cb {
  coio_callback_t fn;
  void *arg;
  /* Called instead of fn when the record is dropped without running (the
   * loop is closed, or the handle cancelled), so internal callers can
   * release what arg holds. NULL for user callbacks. */
  void (*drop)(void *arg);
  uint64_t when_ns; /* timers: deadline */
  uint64_t seq;     /* timers: scheduling order, for equal deadlines */
  uint32_t gen;
  uint32_t heap_idx; /* timers: position in the heap */
  uint32_t next_free;
  uint8_t state;
} coio__cb_t;

#define COIO__CB_CHUNK_SHIFT 10u
#define COIO__CB_CHUNK (1u << COIO__CB_CHUNK_SHIFT)
#define COIO__NO_SLOT UINT32_MAX

typedef struct coio__tsafe_call {
  coio_callback_t fn;
  void *arg;
} coio__tsafe_call_t;

struct coio_loop {
  const coio__backend_t *backend;
  void *bstate;
  coio__atomic_int running;
  int stopping;
  int closed;

  /* callback records */
  coio__cb_t **chunks;
  uint32_t nchunks;
  uint32_t free_head;
  uint32_t nslots;

  /* ready queue: a ring of slot indices */
  uint32_t *ready;
  size_t ready_cap, ready_head, ready_len;

  /* timers: a binary min-heap of slot indices ordered by (when_ns, seq) */
  uint32_t *heap;
  size_t heap_len, heap_cap;
  uint64_t timer_seq;

  /* readiness: open-addressing table fd -> coio__io_t* (io_watch.c) */
  coio__io_t **io_table;
  size_t io_cap, io_len;

  /* call_soon_threadsafe: calls queued by other threads */
  coio__mutex_t tsafe_lock;
  coio__tsafe_call_t *tsafe;
  size_t tsafe_len, tsafe_cap;
  coio__atomic_int tsafe_closed;
  coio__atomic_int tsafe_pending;

  /* tasks (task.c) */
  struct coio__task *tasks; /* every task not yet ended: a list */
  size_t ntasks;
  uint64_t task_counter;        /* for default names */
  size_t ran_since_poll;        /* callbacks run since run_once last polled the backend */
  size_t task_stack_size;       /* 0: COIO__DEFAULT_STACK_SIZE */
  struct coio__stack_pool *stacks; /* made on the first spawn */
  /* set by the default executor when it exists (executor.c) */
  void (*executor_shutdown)(coio_loop_t *loop);
  /* executor.c: how other threads hand work back (executor_internal.h);
   * made on first use, read and written under tsafe_lock */
  struct coio__mailbox *mailbox;

  /* debug mode */
  int debug;
  uint64_t slow_ns;
  coio_warning_handler_t warn;
  void *warn_arg;
};

/* handles.c: records, ready ring, timer heap */
int coio__cb_schedule(coio_loop_t *loop, coio_callback_t fn, void *arg, void (*drop)(void *),
                      coio_handle_t *handle);
int coio__cb_schedule_at(coio_loop_t *loop, uint64_t when_ns, coio_callback_t fn, void *arg,
                         void (*drop)(void *), coio_handle_t *handle);
/* 1 if handle names a record that is still queued and not cancelled. */
int coio__cb_pending(coio_loop_t *loop, coio_handle_t handle);
/* Moves due timers to the ready ring. */
void coio__timers_expire(coio_loop_t *loop, uint64_t now_ns);
/* Nanoseconds until the next timer (0 if due), or -1 if there is none. */
int64_t coio__timers_next(coio_loop_t *loop, uint64_t now_ns);
/* Runs the first n entries of the ready ring (the batch of one iteration). */
void coio__ready_run(coio_loop_t *loop, size_t n);
/* Drops every record (calling drop hooks) and frees the storage. */
void coio__cb_free_all(coio_loop_t *loop);

/* io_watch.c */
void coio__io_free_all(coio_loop_t *loop);

/* task.c: ends what is left of the tasks of a closing loop. */
void coio__tasks_close(coio_loop_t *loop);

/* signal_posix.c / signal_win.c: removes a closing loop's signal handlers,
 * restoring the dispositions they replaced (so the process-wide table never
 * names a freed loop). For coio_loop_close, before it marks the loop closed. */
void coio__signal_loop_close(coio_loop_t *loop);

/* executor.c: a closing loop (called by coio_loop_close after call_soon_threadsafe
 * is refused, before the tasks are closed): waits for the default executor's
 * work and joins its threads, drops what other threads queued for the loop
 * and ends the executor futures and cross-thread handles still pending. */
void coio__executor_loop_close(coio_loop_t *loop);

/* loop.c */
void coio__loop_warn(coio_loop_t *loop, const char *fmt, ...);

/* Converts seconds (finite, >= 0) to nanoseconds, rounding up. */
uint64_t coio__seconds_to_ns(double seconds);

#endif /* COIO_COMMON_LOOP_INTERNAL_H */
