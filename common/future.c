/* common/future.c - futures.
 *
 * Done callbacks are kept in a small array. Completing a future snapshots
 * that array into one "fire" record scheduled on the loop, which calls the
 * callbacks in order: the same order and batch as asyncio's one call_soon
 * per callback, with one ready-ring entry. The fire record holds a reference
 * to the future until it has run (or is dropped by a closing loop). */
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "coio/future.h"
#include "future_internal.h"
#include "loop_internal.h"

typedef struct fire {
  coio_future_t *fut;
  coio__done_cb_t *cbs;
  size_t n;
} fire_t;

int coio_future_new(coio_loop_t *loop, coio_future_t **out) {
  coio_future_t *f;
  if (!loop || !out)
    return COIO_EINVAL;
  *out = NULL;
  if (loop->closed)
    return COIO_ECLOSED;
  f = calloc(1, sizeof *f);
  if (!f)
    return COIO_ENOMEM;
  coio__future_init(f, loop, NULL);
  *out = f;
  return 0;
}

void coio__future_init(coio_future_t *fut, coio_loop_t *loop, const coio__future_ops_t *ops) {
  fut->loop = loop;
  fut->ops = ops;
  fut->refs = 1;
}

coio_future_t *coio_future_ref(coio_future_t *fut) {
  if (fut)
    fut->refs++;
  return fut;
}

void coio_future_unref(coio_future_t *fut) {
  if (!fut || --fut->refs > 0)
    return;
  if (fut->ops && fut->ops->finalize)
    fut->ops->finalize(fut);
  if (fut->dtor)
    fut->dtor(fut->value);
  free(fut->message);
  free(fut->cbs);
  free(fut);
}

coio_loop_t *coio_future_loop(const coio_future_t *fut) { return fut ? fut->loop : NULL; }

coio_future_state_t coio_future_state(const coio_future_t *fut) {
  return fut ? fut->state : COIO_FUTURE_PENDING;
}

int coio_future_done(const coio_future_t *fut) {
  return fut && fut->state != COIO_FUTURE_PENDING;
}

int coio_future_cancelled(const coio_future_t *fut) {
  return fut && fut->state == COIO_FUTURE_CANCELLED;
}

static void fire_run(coio_loop_t *loop, void *arg) {
  fire_t *f = arg;
  size_t i;
  (void)loop;
  for (i = 0; i < f->n; i++)
    f->cbs[i].fn(f->fut, f->cbs[i].arg);
  coio_future_unref(f->fut);
  free(f->cbs);
  free(f);
}

static void fire_drop(void *arg) {
  fire_t *f = arg;
  coio_future_unref(f->fut);
  free(f->cbs);
  free(f);
}

/* Schedules callbacks cbs[0..n) (ownership passes) for fut. */
/* Schedules callbacks cbs[0..n) for fut. On success the fire record owns
 * cbs; on a closed loop cbs is freed (nothing will ever run); on another
 * error cbs is left to the caller. */
static int schedule_fire(coio_future_t *fut, coio__done_cb_t *cbs, size_t n) {
  fire_t *f;
  int rc;
  if (fut->loop->closed) {
    free(cbs);
    return COIO_ECLOSED;
  }
  f = malloc(sizeof *f);
  if (!f)
    return COIO_ENOMEM;
  f->fut = coio_future_ref(fut);
  f->cbs = cbs;
  f->n = n;
  if ((rc = coio__cb_schedule(fut->loop, fire_run, f, fire_drop, NULL)) != 0) {
    coio_future_unref(fut);
    free(f);
  }
  return rc;
}

/* Schedules fut's callbacks for its completion. Called before the state
 * changes, so that a failure (out of memory) leaves the future pending and
 * the caller's value the caller's. On a closed loop nothing will ever run:
 * the callbacks are dropped and the completion goes ahead. */
static int complete(coio_future_t *fut) {
  coio__done_cb_t *cbs = fut->cbs;
  size_t n = fut->ncbs;
  int rc;
  if (n == 0)
    return 0;
  fut->cbs = NULL;
  fut->ncbs = fut->cbs_cap = 0;
  rc = schedule_fire(fut, cbs, n); /* takes cbs either way */
  if (rc == COIO_ECLOSED)
    return 0;
  if (rc != 0) { /* still pending: the callbacks go back */
    fut->cbs = cbs;
    fut->ncbs = fut->cbs_cap = n;
    return rc;
  }
  return 0;
}

int coio_future_set_result(coio_future_t *fut, void *value, void (*dtor)(void *)) {
  int rc;
  if (!fut)
    return COIO_EINVAL;
  if (fut->state != COIO_FUTURE_PENDING)
    return COIO_EINVALSTATE;
  if ((rc = complete(fut)) != 0)
    return rc; /* still pending; value still the caller's */
  fut->state = COIO_FUTURE_DONE;
  fut->value = value;
  fut->dtor = dtor;
  return 0;
}

static char *dup_message(const char *m) {
  char *c;
  size_t n;
  if (!m)
    return NULL;
  n = strlen(m) + 1;
  c = malloc(n);
  if (c)
    memcpy(c, m, n);
  return c;
}

int coio_future_set_error(coio_future_t *fut, int code, const char *message) {
  int rc;
  if (!fut || code >= 0 || code == COIO_ECANCELED)
    return COIO_EINVAL;
  if (fut->state != COIO_FUTURE_PENDING)
    return COIO_EINVALSTATE;
  if ((rc = complete(fut)) != 0)
    return rc;
  fut->state = COIO_FUTURE_DONE;
  fut->error = code;
  fut->message = dup_message(message);
  return 0;
}

int coio_future_cancel(coio_future_t *fut, const char *message) {
  if (!fut)
    return COIO_EINVAL;
  if (fut->ops && fut->ops->cancel)
    return fut->ops->cancel(fut, message);
  return coio__future_cancel_now(fut, message);
}

int coio__future_cancel_now(coio_future_t *fut, const char *message) {
  int rc;
  if (fut->state != COIO_FUTURE_PENDING)
    return COIO_EINVALSTATE;
  if ((rc = complete(fut)) != 0)
    return rc;
  fut->state = COIO_FUTURE_CANCELLED;
  fut->error = COIO_ECANCELED;
  fut->message = dup_message(message);
  return 0;
}

int coio_future_result(const coio_future_t *fut, void **value) {
  if (value)
    *value = NULL;
  if (!fut)
    return COIO_EINVAL;
  if (fut->state == COIO_FUTURE_PENDING)
    return COIO_EINVALSTATE;
  if (fut->error)
    return fut->error;
  if (value)
    *value = fut->value;
  return 0;
}

const char *coio_future_message(const coio_future_t *fut) { return fut ? fut->message : NULL; }

int coio_future_add_done_callback(coio_future_t *fut, coio_future_cb cb, void *user_data) {
  coio__done_cb_t *one;
  if (!fut || !cb)
    return COIO_EINVAL;
  if (fut->state != COIO_FUTURE_PENDING) {
    one = malloc(sizeof *one);
    if (!one)
      return COIO_ENOMEM;
    one->fn = cb;
    one->arg = user_data;
    return schedule_fire(fut, one, 1);
  }
  if (fut->ncbs == fut->cbs_cap) {
    size_t ncap = fut->cbs_cap ? fut->cbs_cap * 2 : 2;
    coio__done_cb_t *n = realloc(fut->cbs, ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    fut->cbs = n;
    fut->cbs_cap = ncap;
  }
  fut->cbs[fut->ncbs].fn = cb;
  fut->cbs[fut->ncbs].arg = user_data;
  fut->ncbs++;
  return 0;
}

int coio_future_remove_done_callback(coio_future_t *fut, coio_future_cb cb, void *user_data) {
  size_t i, j = 0;
  int removed = 0;
  if (!fut || !cb)
    return COIO_EINVAL;
  for (i = 0; i < fut->ncbs; i++) {
    if (fut->cbs[i].fn == cb && fut->cbs[i].arg == user_data)
      removed++;
    else
      fut->cbs[j++] = fut->cbs[i];
  }
  fut->ncbs = j;
  return removed;
}

void *coio__future_steal_result(coio_future_t *fut) {
  void *v = fut->value;
  fut->value = NULL;
  fut->dtor = NULL;
  return v;
}

void coio__future_abandon(coio_future_t *fut, const char *message) {
  if (fut->state != COIO_FUTURE_PENDING)
    return;
  fut->state = COIO_FUTURE_CANCELLED;
  fut->error = COIO_ECANCELED;
  fut->message = dup_message(message);
  free(fut->cbs);
  fut->cbs = NULL;
  fut->ncbs = fut->cbs_cap = 0;
}
