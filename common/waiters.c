/* common/waiters.c - the FIFO of waiting futures shared by the
 * synchronization primitives (see waiters.h). */
#include <stdlib.h>

#include "coio/error.h"
#include "task_internal.h"
#include "waiters.h"

static void unlink_waiter(coio__waiter_t *w) {
  coio__waitq_t *q = w->q;
  if (w->prev)
    w->prev->next = w->next;
  else
    q->head = w->next;
  if (w->next)
    w->next->prev = w->prev;
  else
    q->tail = w->prev;
  w->prev = w->next = NULL;
  w->q = NULL;
  coio_future_unref(&w->fut); /* the queue's reference */
}

int coio__waitq_push(coio__waitq_t *q, coio_loop_t *loop, coio__waiter_t **out) {
  coio__waiter_t *w = calloc(1, sizeof *w);
  *out = NULL;
  if (!w)
    return COIO_ENOMEM;
  /* A plain future (no ops) embedded at the start: future.c frees it. */
  coio__future_init(&w->fut, loop, NULL);
  coio_future_ref(&w->fut); /* one for the queue, one for the caller */
  w->q = q;
  w->prev = q->tail;
  if (q->tail)
    q->tail->next = w;
  else
    q->head = w;
  q->tail = w;
  *out = w;
  return 0;
}

static void complete(coio__waiter_t *w, int rc) {
  /* A failure to schedule the callbacks (out of memory) still leaves the
   * future done; there is nothing better to do here. */
  if (rc == 0)
    coio_future_set_result(&w->fut, NULL, NULL);
  else
    coio_future_set_error(&w->fut, rc, NULL);
}

int coio__waitq_wake_first(coio__waitq_t *q, int rc) {
  while (q->head) {
    coio__waiter_t *w = q->head;
    int pending = !coio_future_done(&w->fut);
    if (pending)
      complete(w, rc);
    unlink_waiter(w);
    if (pending)
      return 1;
  }
  return 0;
}

size_t coio__waitq_wake_all(coio__waitq_t *q, int rc) {
  size_t n = 0;
  while (q->head) {
    coio__waiter_t *w = q->head;
    if (!coio_future_done(&w->fut)) {
      complete(w, rc);
      n++;
    }
    unlink_waiter(w);
  }
  return n;
}

void coio__waitq_clear(coio__waitq_t *q) {
  while (q->head)
    unlink_waiter(q->head);
}

int coio__waiter_wait(coio__waiter_t *w, int *granted) {
  int rc = coio_await(&w->fut);
  void *v;
  /* Done with a result: granted, even if the task was cancelled after the
   * grant (rc is COIO_ECANCELED then; task.c's must_cancel path). */
  *granted = coio_future_state(&w->fut) == COIO_FUTURE_DONE && coio_future_result(&w->fut, &v) == 0;
  if (w->q)
    unlink_waiter(w);
  coio_future_unref(&w->fut);
  return rc;
}

int coio__sync_enter(coio_loop_t *loop) {
  coio__task_t *t;
  if (coio_loop_is_closed(loop))
    return COIO_ECLOSED;
  t = coio__task_current();
  if (!t)
    return COIO_ENOTASK;
  if (t->fut.loop != loop)
    return COIO_EINVAL;
  return 0;
}

int coio__sync_closed(const coio_loop_t *loop) { return coio_loop_is_closed(loop); }
