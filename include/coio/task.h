/* coio/task.h - tasks: functions that run on their own stack and suspend at
 * coio_await, so concurrent code reads sequentially (asyncio's coroutines
 * and Tasks).
 *
 * A task IS a future (coio_task_t is coio_future_t): every coio_future_*
 * call works on it, and its result is what its function produced. A task's
 * function returns 0 (success, with *result as the task's value), a
 * negative COIO_E* code (the task fails with it), or COIO_ECANCELED (the
 * task ends cancelled, as a CancelledError escaping an asyncio coroutine).
 *
 * Calls marked (task) may only be made from inside a task of the loop;
 * elsewhere they return COIO_ENOTASK.
 *
 * Cancellation (asyncio 3.11 semantics): coio_task_cancel asks a task to
 * stop. The future it is awaiting is cancelled and its coio_await returns
 * COIO_ECANCELED; if it is not awaiting, its next suspension does. The task
 * may clean up, even await again, then either return COIO_ECANCELED (it ends
 * cancelled) or swallow the request and return normally. coio_task_cancelling
 * counts the requests not yet withdrawn by coio_task_uncancel; timeouts and
 * task groups use them so that they compose. */
#ifndef COIO_TASK_H
#define COIO_TASK_H

#include "future.h"

COIO_BEGIN_DECLS

typedef coio_future_t coio_task_t;

/* A task's body: runs on the task's stack. Set *result (may be left NULL)
 * and return 0, or return a negative COIO_E* code. */
typedef int (*coio_task_fn)(void *arg, void **result);

typedef struct coio_task_options {
  const char *name;        /* copied; NULL: "Task-<n>" */
  size_t stack_size;       /* usable bytes; 0: the loop's default (256 KiB) */
  void (*result_dtor)(void *); /* frees *result when the task is freed */
} coio_task_options_t;

/* Starts fn(arg) as a task of loop (its first step runs at the next
 * iteration, like asyncio.create_task). opts may be NULL. *out receives a
 * reference (release with coio_future_unref); out may be NULL when the
 * caller does not need it: the loop keeps the task alive until it ends.
 * From a task, a child inherits the parent's context values. */
COIO_API int coio_task_spawn(coio_loop_t *loop, coio_task_fn fn, void *arg,
                             const coio_task_options_t *opts, coio_task_t **out);

/* (task) Suspends until fut is done and returns its status: 0, its error
 * code, or COIO_ECANCELED (fut was cancelled, or this task was). A done
 * future returns at once without suspending. COIO_EINVAL for a future of
 * another loop or NULL. */
COIO_API int coio_await(coio_future_t *fut);

/* (task) Suspends for seconds (>= 0, finite; else COIO_EINVAL). sleep(0)
 * yields to the loop once. 0 or COIO_ECANCELED. */
COIO_API int coio_sleep(double seconds);

/* The task running now, or NULL outside tasks. No reference is added. */
COIO_API coio_task_t *coio_task_current(void);
/* 1 if fut is a task. */
COIO_API int coio_is_task(const coio_future_t *fut);
COIO_API const char *coio_task_name(const coio_task_t *task);
COIO_API int coio_task_set_name(coio_task_t *task, const char *name);

/* Requests cancellation (message may be NULL; kept and reported by
 * coio_future_message when the task ends cancelled). 0, or
 * COIO_EINVALSTATE if the task is already done. */
COIO_API int coio_task_cancel(coio_task_t *task, const char *message);
/* Pending cancellation requests (asyncio Task.cancelling). */
COIO_API int coio_task_cancelling(const coio_task_t *task);
/* Withdraws one request; returns the remaining count (Task.uncancel). */
COIO_API int coio_task_uncancel(coio_task_t *task);

/* (task) Records a message for the error the task is about to return:
 * `return coio_task_error(COIO_EPROTO, "bad header");` Returns code. */
COIO_API int coio_task_error(int code, const char *message);

/* ---- running futures together ------------------------------------------ */

enum {
  /* gather: a failed child does not fail the gathering (asyncio's
   * return_exceptions=True); read each child's outcome afterwards. */
  COIO_GATHER_COLLECT_ERRORS = 1
};

/* asyncio.gather: a future done when all n futures (tasks or not, all of
 * loop) are done. Its value is NULL: the children keep their own results,
 * read them in order with coio_future_result. Without COLLECT_ERRORS the
 * first child to fail (error or cancelled) completes it with that outcome
 * at once, and the other children go on running. Cancelling it cancels
 * every child not done; it then ends cancelled. The children are held
 * (referenced) until they are done. Works outside tasks, so it can be given
 * to coio_loop_run_until_complete. */
COIO_API int coio_gather(coio_loop_t *loop, coio_future_t *const *futs, size_t n, int flags,
                         coio_future_t **out);

/* ---- context values (asyncio's contextvars) ------------------------------
 * A variable holds one value per task; a task spawned from a task starts
 * with a copy of its parent's values (later changes on either side are not
 * seen by the other). Values are not owned: keep them alive while set.
 * Outside tasks, get returns the default and set returns COIO_ENOTASK. */
typedef struct coio_context_var coio_context_var_t;
COIO_API int coio_context_var_new(coio_context_var_t **out, const char *name, void *default_value);
COIO_API void coio_context_var_free(coio_context_var_t *var);
COIO_API const char *coio_context_var_name(const coio_context_var_t *var);
/* The current task's value, or the default. */
COIO_API void *coio_context_var_get(const coio_context_var_t *var);
/* (task) Sets the current task's value. */
COIO_API int coio_context_var_set(coio_context_var_t *var, void *value);
/* (task) Forgets the current task's value: get gives the default again. */
COIO_API int coio_context_var_reset(coio_context_var_t *var);

/* asyncio.run: makes a loop (opts may be NULL), runs main(arg) as a task
 * to completion, cancels the tasks left and waits for them, shuts the
 * default executor down, closes and frees the loop. Returns the main task's
 * status (0, its error, COIO_ECANCELED) or an error making the loop. If
 * result is not NULL it receives the main task's value (its result_dtor is
 * then not called: the caller owns it). */
COIO_API int coio_run(coio_task_fn main, void *arg, const coio_loop_options_t *opts,
                      void **result);

COIO_END_DECLS

#endif /* COIO_TASK_H */
