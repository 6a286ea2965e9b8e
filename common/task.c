/* common/task.c - tasks: spawn, step, await, sleep, cancellation, coio_run.
 *
 * A task's life: spawn puts its first step in the ready ring. A step sets
 * the thread's current task and resumes the task's coroutine, which runs
 * until it suspends (coio_await, coio_sleep) or its function returns. A
 * suspended task is resumed by its next step, scheduled by whatever it
 * waited for (the awaited future's done callback, or a timer).
 *
 * Cancellation follows asyncio's Task: a request cancels the future being
 * awaited (whose done callback then resumes the task, where coio_await
 * returns COIO_ECANCELED); if nothing is awaited, or that future could not
 * be cancelled, must_cancel makes the next resumption return
 * COIO_ECANCELED instead. A task that returns normally while must_cancel
 * is still set ends cancelled (asyncio: "cancelled right before the coro
 * stops"). A task that never started and is cancelled never runs.
 *
 * Ownership: the loop's list holds one reference to each task until it
 * ends; spawn's *out is another, the caller's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "sys.h"
#include "task_internal.h"

static COIO__THREAD_LOCAL coio__task_t *current;

coio__task_t *coio__task_current(void) { return current; }

coio_task_t *coio_task_current(void) { return current ? &current->fut : NULL; }

static char *dup_str(const char *s) {
  size_t n;
  char *c;
  if (!s)
    return NULL;
  n = strlen(s) + 1;
  c = malloc(n);
  if (c)
    memcpy(c, s, n);
  return c;
}

static void set_str(char **slot, const char *s) {
  free(*slot);
  *slot = dup_str(s);
}

/* ---- the future side of a task ----------------------------------------- */

static int task_cancel(coio_future_t *fut, const char *message);
static void task_finalize(coio_future_t *fut);
static const coio__future_ops_t task_ops = {task_cancel, task_finalize};

int coio_is_task(const coio_future_t *fut) { return fut && fut->ops == &task_ops; }

static coio__task_t *as_task(const coio_future_t *fut) {
  return coio_is_task(fut) ? (coio__task_t *)(uintptr_t)fut : NULL;
}

static void task_finalize(coio_future_t *fut) {
  coio__task_t *t = (coio__task_t *)fut;
  /* A task whose loop was closed before it ended may still own its
   * coroutine (coio__tasks_close frees them, so this is only a guard). */
  coio__coro_free(t->coro);
  if (t->result && t->result_dtor && fut->value != t->result)
    t->result_dtor(t->result);
  free(t->name);
  free(t->error_msg);
  free(t->cancel_msg);
  coio__ctx_free(t->ctx);
}

static void unlink_task(coio__task_t *t) {
  coio_loop_t *loop = t->fut.loop;
  if (t->prev)
    t->prev->next = t->next;
  else
    loop->tasks = t->next;
  if (t->next)
    t->next->prev = t->prev;
  t->prev = t->next = NULL;
  loop->ntasks--;
}

/* The task's function has returned (or the task was cancelled before it
 * started): complete the future, release the stack and the loop's ref. */
static void task_end(coio__task_t *t) {
  coio_future_t *fut = &t->fut;
  t->state = COIO__TASK_ENDED;
  coio__coro_free(t->coro);
  t->coro = NULL;
  if (t->rc == 0 && !t->must_cancel) {
    void *r = t->result;
    t->result = NULL;
    coio_future_set_result(fut, r, t->result_dtor);
  } else if (t->rc == 0 || t->rc == COIO_ECANCELED) {
    coio__future_cancel_now(fut, t->cancel_msg);
  } else {
    coio_future_set_error(fut, t->rc, t->error_msg);
  }
  unlink_task(t);
  coio_future_unref(fut);
}

/* ---- running ------------------------------------------------------------ */

static void task_entry(void *arg) {
  coio__task_t *t = arg;
  t->rc = t->fn(t->arg, &t->result);
  if (t->rc > 0) /* not a COIO_E* code: treat as a programming error */
    t->rc = COIO_EINVAL;
}

static void task_step(coio_loop_t *loop, void *arg) {
  coio__task_t *t = arg, *prev = current;
  (void)loop;
  t->step.id = 0;
  if (t->state == COIO__TASK_ENDED)
    return;
  if (!t->started && t->must_cancel) {
    /* Cancelled before its first step: the body never runs. */
    t->rc = COIO_ECANCELED;
    task_end(t);
    return;
  }
  t->started = 1;
  t->state = COIO__TASK_RUNNING;
  current = t;
  coio__coro_resume(t->coro);
  current = prev;
  if (coio__coro_finished(t->coro))
    task_end(t);
}

int coio__task_schedule(coio__task_t *t) {
  if (coio__cb_pending(t->fut.loop, t->step))
    return 0;
  t->state = COIO__TASK_SCHEDULED;
  return coio__cb_schedule(t->fut.loop, task_step, t, NULL, &t->step);
}

void coio__task_resume(coio__task_t *t) {
  coio_handle_cancel(t->fut.loop, t->step);
  task_step(t->fut.loop, t);
}

int coio__task_suspend(coio__task_t *t) {
  if (t->state == COIO__TASK_RUNNING)
    t->state = COIO__TASK_WAITING;
  coio__coro_yield(t->coro);
  /* resumed by task_step */
  if (t->must_cancel) {
    t->must_cancel = 0;
    return COIO_ECANCELED;
  }
  return 0;
}

int coio_task_spawn(coio_loop_t *loop, coio_task_fn fn, void *arg, const coio_task_options_t *opts,
                    coio_task_t **out) {
  coio__task_t *t;
  size_t stack;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !fn)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (opts && opts->stack_size > ((size_t)1 << 30))
    return COIO_EINVAL;
  if (!loop->stacks && (rc = coio__stack_pool_new(&loop->stacks)) != 0)
    return rc;
  t = calloc(1, sizeof *t);
  if (!t)
    return COIO_ENOMEM;
  coio__future_init(&t->fut, loop, &task_ops);
  t->fn = fn;
  t->arg = arg;
  t->result_dtor = opts ? opts->result_dtor : NULL;
  t->number = ++loop->task_counter;
  /* The default name is formatted only when asked for (coio_task_name):
   * snprintf and a malloc per spawn were 5% of a spawn + join. */
  if (opts && opts->name && !(t->name = dup_str(opts->name))) {
    free(t);
    return COIO_ENOMEM;
  }
  stack = opts && opts->stack_size ? opts->stack_size : loop->task_stack_size;
  rc = coio__coro_new(&t->coro, loop->stacks, stack, task_entry, t);
  if (rc != 0) {
    free(t->name);
    free(t);
    return rc;
  }
  /* Context values: a child of a task starts with a copy of its parent's. */
  if (current && current->fut.loop == loop && current->ctx) {
    t->ctx = coio__ctx_inherit(current->ctx);
    if (!t->ctx) {
      coio__coro_free(t->coro);
      free(t->name);
      free(t);
      return COIO_ENOMEM;
    }
  }
  if ((rc = coio__task_schedule(t)) != 0) {
    coio__ctx_free(t->ctx);
    coio__coro_free(t->coro);
    free(t->name);
    free(t);
    return rc;
  }
  t->next = loop->tasks;
  if (loop->tasks)
    loop->tasks->prev = t;
  loop->tasks = t;
  loop->ntasks++;
  /* The list's reference is the one from init; the caller gets another. */
  if (out)
    *out = coio_future_ref(&t->fut);
  return 0;
}

/* ---- awaiting ----------------------------------------------------------- */

static void wake_on_done(coio_future_t *fut, void *arg) {
  coio__task_t *t = arg;
  (void)fut;
  if (t->state == COIO__TASK_WAITING && t->waiting == fut)
    coio__task_resume(t);
}

int coio_await(coio_future_t *fut) {
  coio__task_t *t = current;
  int rc, crc;
  if (!t)
    return COIO_ENOTASK;
  if (!fut || fut->loop != t->fut.loop || fut == &t->fut)
    return COIO_EINVAL;
  if (coio_future_done(fut))
    return coio_future_result(fut, NULL);
  if ((rc = coio_future_add_done_callback(fut, wake_on_done, t)) != 0)
    return rc; /* a pending cancel request stays pending */
  coio_future_ref(fut);
  if (t->must_cancel && coio_future_cancel(fut, t->cancel_msg) == 0)
    t->must_cancel = 0; /* the cancel now travels through fut */
  t->waiting = fut;
  crc = coio__task_suspend(t);
  t->waiting = NULL;
  rc = crc ? crc : coio_future_result(fut, NULL);
  coio_future_remove_done_callback(fut, wake_on_done, t);
  coio_future_unref(fut);
  return rc;
}

/* sleep: a timer resumes the task, unless a cancel request does first. */
typedef struct sleeper {
  coio__task_t *task;
  int fired;
} sleeper_t;

static void sleep_fire(coio_loop_t *loop, void *arg) {
  sleeper_t *s = arg;
  (void)loop;
  s->fired = 1;
  coio__task_resume(s->task);
}

int coio_sleep(double seconds) {
  coio__task_t *t = current;
  sleeper_t s;
  coio_handle_t h;
  int rc;
  if (!t)
    return COIO_ENOTASK;
  if (!(seconds >= 0) || seconds > 1e12) /* also NaN */
    return COIO_EINVAL;
  if (seconds == 0) {
    /* yield once: asyncio's bare yield */
    if ((rc = coio__task_schedule(t)) != 0)
      return rc;
    return coio__task_suspend(t);
  }
  if (t->must_cancel) {
    t->must_cancel = 0;
    return COIO_ECANCELED;
  }
  s.task = t;
  s.fired = 0;
  if ((rc = coio_call_later(t->fut.loop, seconds, sleep_fire, &s, &h)) != 0)
    return rc;
  rc = coio__task_suspend(t);
  if (!s.fired)
    coio_handle_cancel(t->fut.loop, h);
  return rc;
}

/* ---- cancellation ------------------------------------------------------------ */

static int task_cancel(coio_future_t *fut, const char *message) {
  coio__task_t *t = (coio__task_t *)fut;
  if (fut->state != COIO_FUTURE_PENDING || t->state == COIO__TASK_ENDED)
    return COIO_EINVALSTATE;
  t->num_cancels++;
  set_str(&t->cancel_msg, message);
  if (t->waiting && coio_future_cancel(t->waiting, message) == 0)
    return 0; /* its done callback resumes the task, which sees the cancel */
  t->must_cancel = 1;
  /* Suspended with nothing to cancel (coio_sleep's timer): resume it now. */
  if (t->state == COIO__TASK_WAITING && !t->waiting && t->started)
    coio__task_schedule(t);
  return 0;
}

int coio_task_cancel(coio_task_t *task, const char *message) {
  if (!as_task(task))
    return COIO_EINVAL;
  return task_cancel(task, message);
}

int coio_task_cancelling(const coio_task_t *task) {
  coio__task_t *t = as_task(task);
  return t ? t->num_cancels : 0;
}

int coio_task_uncancel(coio_task_t *task) {
  coio__task_t *t = as_task(task);
  if (!t)
    return COIO_EINVAL;
  if (t->num_cancels > 0 && --t->num_cancels == 0)
    t->must_cancel = 0;
  return t->num_cancels;
}

int coio_task_error(int code, const char *message) {
  if (current)
    set_str(&current->error_msg, message);
  return code;
}

const char *coio_task_name(const coio_task_t *task) {
  coio__task_t *t = as_task(task);
  if (!t)
    return NULL;
  if (t->name)
    return t->name;
  if (!t->auto_name[0])
    snprintf(t->auto_name, sizeof t->auto_name, "Task-%llu", (unsigned long long)t->number);
  return t->auto_name;
}

int coio_task_set_name(coio_task_t *task, const char *name) {
  coio__task_t *t = as_task(task);
  char *n;
  if (!t || !name)
    return COIO_EINVAL;
  if (!(n = dup_str(name)))
    return COIO_ENOMEM;
  free(t->name);
  t->name = n;
  return 0;
}

/* ---- a closing loop ------------------------------------------------------------ */

void coio__tasks_close(coio_loop_t *loop) {
  /* Tasks that never ended: their stacks are released without unwinding
   * (asyncio warns "Task was destroyed but it is pending"); each ends
   * cancelled for whoever still holds a reference. */
  while (loop->tasks) {
    coio__task_t *t = loop->tasks;
    if (t->waiting) { /* the reference and callback coio_await took */
      coio_future_remove_done_callback(t->waiting, wake_on_done, t);
      coio_future_unref(t->waiting);
      t->waiting = NULL;
    }
    coio__coro_free(t->coro);
    t->coro = NULL;
    t->state = COIO__TASK_ENDED;
    coio__future_abandon(&t->fut, "the loop was closed while the task was pending");
    unlink_task(t);
    coio_future_unref(&t->fut);
  }
  coio__stack_pool_free(loop->stacks);
  loop->stacks = NULL;
}

/* ---- coio_run -------------------------------------------------------------------- */

static void count_down(coio_future_t *fut, void *arg) {
  coio_future_t *all = arg;
  (void)fut;
  if (coio_future_loop(all)->ntasks == 0 && !coio_future_done(all))
    coio_future_set_result(all, NULL, NULL);
}

/* Cancels every task left and runs the loop until they have all ended. */
static void cancel_all(coio_loop_t *loop) {
  coio_future_t *all;
  coio__task_t *t;
  if (loop->ntasks == 0 || coio_future_new(loop, &all) != 0)
    return;
  for (t = loop->tasks; t; t = t->next) {
    coio_task_cancel(&t->fut, NULL);
    coio_future_add_done_callback(&t->fut, count_down, all);
  }
  coio_loop_run_until_complete(loop, all);
  for (t = loop->tasks; t; t = t->next)
    coio_future_remove_done_callback(&t->fut, count_down, all);
  coio_future_unref(all);
}

int coio_run(coio_task_fn main_fn, void *arg, const coio_loop_options_t *opts, void **result) {
  coio_loop_t *loop;
  coio_task_t *main_task;
  int rc;
  if (result)
    *result = NULL;
  if (!main_fn)
    return COIO_EINVAL;
  if ((rc = coio_loop_new(&loop, opts)) != 0)
    return rc;
  if ((rc = coio_task_spawn(loop, main_fn, arg, NULL, &main_task)) != 0) {
    coio_loop_free(loop);
    return rc;
  }
  rc = coio_loop_run_until_complete(loop, main_task);
  cancel_all(loop);
  if (loop->executor_shutdown)
    loop->executor_shutdown(loop);
  if (rc == 0 && result)
    *result = coio__future_steal_result(main_task);
  coio_future_unref(main_task);
  coio_loop_free(loop);
  return rc;
}
