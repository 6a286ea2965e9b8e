/* common/executor_internal.h - what executor.c and cfuture.c share: the
 * pool's work items and a loop's mailbox.
 *
 * The mailbox is how other threads hand things to a loop (job outcomes,
 * tasks to spawn, cancel requests) without anything being lost when the
 * loop closes. Objects embed coio__msg_t nodes; a post appends the node to
 * the mailbox's inbox and, if no drain is pending, schedules one with
 * coio_call_soon_threadsafe. The drain runs every message on the loop's
 * thread. The mailbox outlives its loop (reference counted: the loop holds
 * one reference, every job and cfuture another), so a worker finishing
 * after the loop closed finds it detached and drops its message itself
 * instead of touching a freed loop. When the loop closes
 * (coio__executor_loop_close), messages not yet delivered are dropped and
 * the loop-side records still pending are released: nothing is leaked
 * even though call_soon_threadsafe's queue is discarded without a word. */
#ifndef COIO_COMMON_EXECUTOR_INTERNAL_H
#define COIO_COMMON_EXECUTOR_INTERNAL_H

#include "coio/executor.h"
#include "thread.h"

/* ---- the pool (executor.c) ------------------------------------------------ */

typedef struct coio__work coio__work_t;
struct coio__work {
  coio__work_t *next;
  /* On a worker thread, once taken from the queue. */
  void (*run)(coio__work_t *w);
  /* Never ran: removed by a shutdown with COIO_EXECUTOR_CANCEL_PENDING
   * (on the thread calling the shutdown). */
  void (*drop)(coio__work_t *w);
};

/* ---- the mailbox (executor.c) ---------------------------------------------- */

typedef struct coio__msg coio__msg_t;
struct coio__msg {
  coio__msg_t *next;
  /* loop: delivered on the loop's thread. NULL: the loop closed before it
   * could be delivered; release what the message holds (any thread). */
  void (*run)(coio__msg_t *msg, coio_loop_t *loop);
};

struct coio__job;
struct coio_cfuture;

typedef struct coio__mailbox {
  coio__mutex_t mu;
  coio__atomic_int refs;
  /* under mu */
  coio_loop_t *loop; /* NULL once the loop closed: detached */
  coio__msg_t *head, *tail;
  int drain_scheduled;
  /* the loop's thread only */
  coio_executor_t *default_ex;
  size_t default_size;          /* 0: the default */
  int default_shutdown;         /* shutdown_default_executor was called */
  coio_future_t *shutdown_fut;  /* its future, until the loop closes */
  coio__msg_t shutdown_msg;     /* the default pool's last thread ended */
  struct coio__job *jobs;       /* jobs whose outcome has not reached the loop */
  struct coio_cfuture *cfs;     /* cfutures whose task has not ended */
} coio__mailbox_t;

/* The loop's mailbox, made on first use (any thread: made under the
 * loop's tsafe_lock). 0 and *out (not referenced: valid while the loop is
 * open), COIO_ECLOSED once the loop is closed, COIO_ENOMEM. */
int coio__mailbox_get(coio_loop_t *loop, coio__mailbox_t **out);
void coio__mailbox_ref(coio__mailbox_t *mb);
void coio__mailbox_unref(coio__mailbox_t *mb);
/* Any thread: queues msg for the loop's thread. 0, or COIO_ECLOSED if the
 * loop closed (msg was not taken: the caller runs msg->run(msg, NULL)). */
int coio__mailbox_post(coio__mailbox_t *mb, coio__msg_t *msg);

/* cfuture.c: the loop is closing; every cfutures still in mb->cfs ends
 * with COIO_ECLOSED. */
void coio__cfutures_close(coio__mailbox_t *mb);

#define COIO__CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif
