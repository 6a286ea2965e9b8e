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

#include <math.h>

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

/* No timeout, where a timeout in seconds is taken. Other negative, NaN or
 * infinite values are refused with COIO_EINVAL. */
#define COIO_NO_TIMEOUT (HUGE_VAL)

typedef enum coio_wait_mode {
  COIO_WAIT_ALL_COMPLETED = 0,
  COIO_WAIT_FIRST_COMPLETED = 1,
  COIO_WAIT_FIRST_EXCEPTION = 2 /* an error or a cancellation; else all */
} coio_wait_mode_t;

/* (task) asyncio.wait: suspends until mode is satisfied or timeout seconds
 * passed, and returns how many of the n futures are done (see each with
 * coio_future_done). Nothing is cancelled on timeout. COIO_EINVAL for n ==
 * 0, futures of another loop, a bad timeout; COIO_ECANCELED if the waiting
 * task was cancelled. */
COIO_API int coio_wait(coio_future_t *const *futs, size_t n, coio_wait_mode_t mode,
                       double timeout);

/* (task) asyncio.wait_for: awaits fut for at most timeout seconds and
 * returns its status. On timeout fut is cancelled, awaited until it ended,
 * and COIO_ETIMEDOUT is returned. Cancelling the waiting task cancels fut
 * too (COIO_ECANCELED). */
COIO_API int coio_wait_for(coio_future_t *fut, double timeout);

/* asyncio.as_completed: yields the futures in the order they complete.
 * The iterator holds a reference to each future until it is freed. */
typedef struct coio_as_completed coio_as_completed_t;
COIO_API int coio_as_completed_new(coio_loop_t *loop, coio_future_t *const *futs, size_t n,
                                   double timeout, coio_as_completed_t **out);
/* (task) 1 and *fut: the next done future (no reference added: valid while
 * the iterator lives). 0 when every future was returned. COIO_ETIMEDOUT
 * once the timeout passed (the rest keep running), COIO_ECANCELED. */
COIO_API int coio_as_completed_next(coio_as_completed_t *it, coio_future_t **fut);
COIO_API void coio_as_completed_free(coio_as_completed_t *it);

/* asyncio.shield: *out completes as inner does, but cancelling *out does
 * not cancel inner (awaiting a shield from a cancelled task returns
 * COIO_ECANCELED while inner goes on). */
COIO_API int coio_shield(coio_future_t *inner, coio_future_t **out);

/* ---- timeout scopes (asyncio.timeout / timeout_at) -----------------------
 *   coio_timeout_t *scope;
 *   coio_timeout_enter(1.5, &scope);
 *   rc = ...awaits...;                 // COIO_ECANCELED when the scope expired
 *   rc = coio_timeout_exit(scope, rc); // COIO_ETIMEDOUT if that was us
 * On expiry the scope cancels its task; exit turns the resulting
 * COIO_ECANCELED into COIO_ETIMEDOUT unless another cancellation is also
 * pending (then it stays COIO_ECANCELED), and frees the scope. Scopes nest
 * and must be exited in reverse order, in the task that entered them. */
typedef struct coio_timeout coio_timeout_t;
/* (task) Enters a scope expiring after delay seconds (COIO_NO_TIMEOUT: none). */
COIO_API int coio_timeout_enter(double delay, coio_timeout_t **out);
/* (task) Enters a scope expiring at loop time when (COIO_NO_TIMEOUT: none). */
COIO_API int coio_timeout_enter_at(double when, coio_timeout_t **out);
/* Moves the deadline (loop time, or COIO_NO_TIMEOUT). COIO_EINVALSTATE once
 * the scope expired. */
COIO_API int coio_timeout_reschedule(coio_timeout_t *scope, double when);
/* The deadline in loop time, or COIO_NO_TIMEOUT. */
COIO_API double coio_timeout_when(const coio_timeout_t *scope);
COIO_API int coio_timeout_expired(const coio_timeout_t *scope);
/* (task) Leaves the scope: returns status, or COIO_ETIMEDOUT (see above). */
COIO_API int coio_timeout_exit(coio_timeout_t *scope, int status);

/* ---- task groups (asyncio.TaskGroup) --------------------------------------
 *   coio_task_group_t *g;
 *   coio_task_group_new(&g);
 *   coio_task_group_spawn(g, fetch, a, NULL, NULL);
 *   coio_task_group_spawn(g, fetch, b, NULL, NULL);
 *   rc = ...the body's own awaits, 0 if none...;
 *   rc = coio_task_group_wait(g, rc);
 *   coio_task_group_free(g);
 * The first child to fail cancels the other children and the parent task
 * (so the body's await returns COIO_ECANCELED); wait returns after every
 * child ended, with the first child error (every error is listed by
 * coio_task_group_error), or COIO_ECANCELED if the parent was cancelled
 * from outside, or 0. A body status other than 0 also cancels the
 * children. Children that end cancelled are not errors. */
typedef struct coio_task_group coio_task_group_t;
/* (task) A group whose parent is the current task. */
COIO_API int coio_task_group_new(coio_task_group_t **out);
/* Spawns a child (see coio_task_spawn). COIO_EINVALSTATE once the group is
 * finished or shutting down after an error. */
COIO_API int coio_task_group_spawn(coio_task_group_t *g, coio_task_fn fn, void *arg,
                                   const coio_task_options_t *opts, coio_task_t **out);
/* (task, the parent) asyncio's __aexit__ (see above). */
COIO_API int coio_task_group_wait(coio_task_group_t *g, int body_status);
/* How many errors were recorded; the i-th one's code (and its task, NULL
 * for the body's own error; no reference added). */
COIO_API size_t coio_task_group_error_count(const coio_task_group_t *g);
COIO_API int coio_task_group_error(const coio_task_group_t *g, size_t i, coio_task_t **task);
/* Frees a group that was waited for (COIO_EBUSY otherwise). */
COIO_API int coio_task_group_free(coio_task_group_t *g);

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
