/* common/cfuture.c - run_coroutine_threadsafe: another thread spawns a
 * task on a loop and waits for it through a thread-safe handle.
 *
 * The handle (coio_cfuture_t) is shared by the caller's thread and the
 * loop's thread, so it has its own mutex, condition variable and atomic
 * reference count: one reference is the caller's, one the loop side's
 * (carried by the spawn message, then held while the task runs), and a
 * pending cancel message holds a third. Everything on the loop side
 * (spawning, the task's done callback, cancelling) runs on the loop's
 * thread through the loop's mailbox (executor_internal.h), so a loop that
 * closes first still ends every handle (COIO_ECLOSED) and leaks nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "executor_internal.h"
#include "future_internal.h"
#include "loop_internal.h"

struct coio_cfuture {
  coio__mutex_t mu;
  coio__cond_t cv;
  coio__atomic_int refs;
  /* under mu */
  int done;
  int status;
  void *result; /* owned by the handle once done */
  int cancel_requested;
  /* set at creation, then read-only */
  void (*result_dtor)(void *);
  coio__mailbox_t *mb; /* referenced */
  const coio_loop_t *loop; /* compared, never followed */
  coio__msg_t spawn_msg, cancel_msg;
  /* the loop's thread only */
  coio_task_fn fn;
  void *arg;
  char *name;
  size_t stack_size;
  coio_task_t *task; /* referenced while it runs */
  struct coio_cfuture *prev, *next; /* mb->cfs */
};

static void cf_unref(coio_cfuture_t *cf) {
  if (coio__atomic_add(&cf->refs, -1) != 0)
    return;
  if (cf->result && cf->result_dtor)
    cf->result_dtor(cf->result);
  coio__mailbox_unref(cf->mb);
  free(cf->name);
  coio__cond_destroy(&cf->cv);
  coio__mutex_destroy(&cf->mu);
  free(cf);
}

/* Publishes the outcome (once) and wakes the waiters. result passes to the
 * handle. */
static void cf_complete(coio_cfuture_t *cf, int status, void *result) {
  void *dropped = NULL;
  coio__mutex_lock(&cf->mu);
  if (!cf->done) {
    cf->done = 1;
    cf->status = status;
    cf->result = result;
    coio__cond_broadcast(&cf->cv);
  } else {
    dropped = result;
  }
  coio__mutex_unlock(&cf->mu);
  if (dropped && cf->result_dtor)
    cf->result_dtor(dropped);
}

static void unlink_cf(coio_cfuture_t *cf) {
  coio__mailbox_t *mb = cf->mb;
  if (cf->prev)
    cf->prev->next = cf->next;
  else
    mb->cfs = cf->next;
  if (cf->next)
    cf->next->prev = cf->prev;
  cf->prev = cf->next = NULL;
}

/* The task ended (the loop's thread). */
static void on_task_done(coio_future_t *task, void *arg) {
  coio_cfuture_t *cf = arg;
  int status = coio_future_result(task, NULL);
  void *result = status == 0 ? coio__future_steal_result(task) : NULL;
  unlink_cf(cf);
  cf->task = NULL;
  coio_future_unref(task);
  cf_complete(cf, status, result);
  cf_unref(cf); /* the loop side's */
}

static void spawn_msg_run(coio__msg_t *msg, coio_loop_t *loop) {
  coio_cfuture_t *cf = COIO__CONTAINER_OF(msg, coio_cfuture_t, spawn_msg);
  coio_task_options_t opts;
  int rc, cancel;
  if (!loop) {
    cf_complete(cf, COIO_ECLOSED, NULL);
    cf_unref(cf);
    return;
  }
  coio__mutex_lock(&cf->mu);
  cancel = cf->cancel_requested;
  coio__mutex_unlock(&cf->mu);
  if (cancel) { /* cancelled before it was spawned: it never runs */
    cf_complete(cf, COIO_ECANCELED, NULL);
    cf_unref(cf);
    return;
  }
  memset(&opts, 0, sizeof opts);
  opts.name = cf->name;
  opts.stack_size = cf->stack_size;
  opts.result_dtor = cf->result_dtor;
  if ((rc = coio_task_spawn(loop, cf->fn, cf->arg, &opts, &cf->task)) == 0 &&
      (rc = coio_future_add_done_callback(cf->task, on_task_done, cf)) != 0) {
    coio_task_cancel(cf->task, NULL);
    coio_future_unref(cf->task);
    cf->task = NULL;
  }
  if (rc != 0) {
    cf_complete(cf, rc, NULL);
    cf_unref(cf);
    return;
  }
  cf->next = cf->mb->cfs;
  if (cf->mb->cfs)
    cf->mb->cfs->prev = cf;
  cf->mb->cfs = cf;
}

static void cancel_msg_run(coio__msg_t *msg, coio_loop_t *loop) {
  coio_cfuture_t *cf = COIO__CONTAINER_OF(msg, coio_cfuture_t, cancel_msg);
  /* Messages arrive in order, so the spawn has been handled: cf->task is
   * the running task, or NULL if it ended or never started. */
  if (loop && cf->task)
    coio_task_cancel(cf->task, NULL);
  cf_unref(cf);
}

void coio__cfutures_close(coio__mailbox_t *mb) {
  while (mb->cfs) {
    coio_cfuture_t *cf = mb->cfs;
    unlink_cf(cf);
    coio_future_remove_done_callback(cf->task, on_task_done, cf);
    coio_future_unref(cf->task);
    cf->task = NULL;
    cf_complete(cf, COIO_ECLOSED, NULL);
    cf_unref(cf);
  }
}

int coio_run_threadsafe(coio_loop_t *loop, coio_task_fn fn, void *arg,
                        const coio_task_options_t *opts, coio_cfuture_t **out) {
  coio__mailbox_t *mb;
  coio_cfuture_t *cf;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !fn || !out)
    return COIO_EINVAL;
  if (opts && opts->stack_size > ((size_t)1 << 30))
    return COIO_EINVAL;
  if (coio__atomic_load(&loop->tsafe_closed))
    return COIO_ECLOSED;
  if ((rc = coio__mailbox_get(loop, &mb)) != 0)
    return rc;
  cf = calloc(1, sizeof *cf);
  if (!cf)
    return COIO_ENOMEM;
  if (opts && opts->name) {
    size_t n = strlen(opts->name) + 1;
    if (!(cf->name = malloc(n))) {
      free(cf);
      return COIO_ENOMEM;
    }
    memcpy(cf->name, opts->name, n);
  }
  coio__mutex_init(&cf->mu);
  coio__cond_init(&cf->cv);
  coio__atomic_store(&cf->refs, 2); /* the caller's, the loop side's */
  cf->result_dtor = opts ? opts->result_dtor : NULL;
  cf->stack_size = opts ? opts->stack_size : 0;
  cf->fn = fn;
  cf->arg = arg;
  cf->loop = loop;
  cf->spawn_msg.run = spawn_msg_run;
  cf->cancel_msg.run = cancel_msg_run;
  cf->mb = mb;
  coio__mailbox_ref(mb);
  if ((rc = coio__mailbox_post(mb, &cf->spawn_msg)) != 0) {
    coio__atomic_store(&cf->refs, 1);
    cf_unref(cf);
    return rc;
  }
  *out = cf;
  return 0;
}

int coio_cfuture_wait(coio_cfuture_t *cf, double timeout, void **result) {
  coio_task_t *self = coio_task_current();
  uint64_t deadline = 0;
  int forever, rc;
  if (result)
    *result = NULL;
  if (!cf || !(timeout >= 0)) /* also NaN */
    return COIO_EINVAL;
  if (self && coio_future_loop(self) == cf->loop)
    return COIO_EBUSY;
  /* Beyond ~31 years the deadline would overflow: that is forever. */
  forever = timeout > 1e9;
  if (!forever)
    deadline = coio__now_ns() + (uint64_t)ceil(timeout * 1e9);
  coio__mutex_lock(&cf->mu);
  while (!cf->done) {
    if (forever)
      coio__cond_wait(&cf->cv, &cf->mu);
    else if (coio__cond_wait_until(&cf->cv, &cf->mu, deadline) == COIO_ETIMEDOUT && !cf->done)
      break;
  }
  if (!cf->done) {
    rc = COIO_ETIMEDOUT;
  } else {
    rc = cf->status;
    if (rc == 0 && result)
      *result = cf->result;
  }
  coio__mutex_unlock(&cf->mu);
  return rc;
}

int coio_cfuture_done(const coio_cfuture_t *cf) {
  coio_cfuture_t *c = (coio_cfuture_t *)(uintptr_t)cf;
  int done;
  if (!cf)
    return 0;
  coio__mutex_lock(&c->mu);
  done = c->done;
  coio__mutex_unlock(&c->mu);
  return done;
}

int coio_cfuture_cancel(coio_cfuture_t *cf) {
  if (!cf)
    return COIO_EINVAL;
  coio__mutex_lock(&cf->mu);
  if (cf->done) {
    coio__mutex_unlock(&cf->mu);
    return COIO_EINVALSTATE;
  }
  if (cf->cancel_requested) {
    coio__mutex_unlock(&cf->mu);
    return 0;
  }
  cf->cancel_requested = 1;
  coio__mutex_unlock(&cf->mu);
  coio__atomic_add(&cf->refs, 1); /* the cancel message's */
  if (coio__mailbox_post(cf->mb, &cf->cancel_msg) != 0)
    cf_unref(cf); /* the loop closed: its close ended the task's handle */
  return 0;
}

void coio_cfuture_free(coio_cfuture_t *cf) {
  if (cf)
    cf_unref(cf);
}
