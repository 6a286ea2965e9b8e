/* common/task_internal.h - the task object, for the files of common/ that
 * build on tasks (combinators, timeouts, task groups, context values). */
#ifndef COIO_COMMON_TASK_INTERNAL_H
#define COIO_COMMON_TASK_INTERNAL_H

#include "coio/task.h"
#include "coro.h"
#include "future_internal.h"

enum {
  COIO__TASK_SCHEDULED, /* its next step is in the ready ring */
  COIO__TASK_RUNNING,
  COIO__TASK_WAITING,   /* suspended in coio_await */
  COIO__TASK_ENDED
};

typedef struct coio__task {
  coio_future_t fut; /* first: a task is a future */
  coio__coro_t *coro;
  int started;
  int state;
  coio_handle_t step; /* the scheduled step, if any (at most one) */
  coio_task_fn fn;
  void *arg;
  void *result;
  void (*result_dtor)(void *);
  int rc;
  char *name;            /* set by the user; NULL: "Task-<number>" */
  uint64_t number;       /* the loop's count of tasks when this one was made */
  char auto_name[24];    /* "Task-<number>", written on the first coio_task_name */
  char *error_msg;       /* from coio_task_error */
  char *cancel_msg;      /* from the last cancel request */
  coio_future_t *waiting; /* what coio_await waits for */
  int must_cancel;       /* deliver COIO_ECANCELED at the next resumption */
  int num_cancels;       /* coio_task_cancelling */
  struct coio__ctx *ctx; /* context values (context.c) */
  struct coio__task *prev, *next; /* the loop's list of tasks not ended */
} coio__task_t;

/* The task running on this thread, or NULL. */
coio__task_t *coio__task_current(void);

/* (task) Suspends the current task until something schedules its next step
 * (coio__task_schedule). Returns COIO_ECANCELED if a cancellation request
 * is pending when it resumes (and consumes it), else 0. */
int coio__task_suspend(coio__task_t *t);
/* Schedules t's next step unless one is already scheduled. */
int coio__task_schedule(coio__task_t *t);
/* Resumes a suspended t right now (from a callback of the loop), dropping
 * a step that was scheduled for it: a task is resumed once per suspension. */
void coio__task_resume(coio__task_t *t);

/* context.c: a child's context from its parent's (NULL: empty). */
struct coio__ctx *coio__ctx_inherit(const struct coio__ctx *parent);
void coio__ctx_free(struct coio__ctx *ctx);

#endif
