/* common/timeout.c - timeout scopes (asyncio.timeout / timeout_at, 3.11
 * semantics) and coio_wait_for built on them.
 *
 * On expiry a scope cancels its task (a normal cancel request). When the
 * task leaves the scope, the request is withdrawn (uncancel); if that leaves
 * no more requests than there were when the scope was entered, and the
 * body ended cancelled, the cancellation was the scope's own and becomes
 * COIO_ETIMEDOUT. Otherwise someone else also cancelled the task and
 * COIO_ECANCELED goes on up: that is how nested scopes, task groups and
 * outside cancels compose. */
#include <math.h>
#include <stdlib.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"

int coio__check_timeout(double timeout); /* wait.c */

enum { ENTERED, EXPIRING, EXPIRED };

struct coio_timeout {
  coio__task_t *task;
  int state;
  int cancelling; /* the task's cancel requests when the scope was entered */
  double when;    /* loop time, or COIO_NO_TIMEOUT */
  coio_handle_t timer;
};

static void on_expiry(coio_loop_t *loop, void *arg) {
  coio_timeout_t *s = arg;
  (void)loop;
  s->timer.id = 0;
  s->state = EXPIRING;
  coio_task_cancel(&s->task->fut, NULL);
}

int coio_timeout_reschedule(coio_timeout_t *s, double when) {
  coio_loop_t *loop;
  int rc;
  if (!s || isnan(when) || (isinf(when) && when < 0))
    return COIO_EINVAL;
  if (s->state != ENTERED)
    return COIO_EINVALSTATE;
  loop = s->task->fut.loop;
  coio_handle_cancel(loop, s->timer);
  s->timer.id = 0;
  s->when = when;
  if (isinf(when))
    return 0;
  if (when <= coio_loop_time(loop))
    rc = coio_call_soon(loop, on_expiry, s, &s->timer);
  else
    rc = coio_call_at(loop, when, on_expiry, s, &s->timer);
  return rc;
}

int coio_timeout_enter_at(double when, coio_timeout_t **out) {
  coio__task_t *t = coio__task_current();
  coio_timeout_t *s;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!t)
    return COIO_ENOTASK;
  if (isnan(when) || (isinf(when) && when < 0))
    return COIO_EINVAL;
  if (!(s = calloc(1, sizeof *s)))
    return COIO_ENOMEM;
  s->task = t;
  s->state = ENTERED;
  s->cancelling = t->num_cancels;
  if ((rc = coio_timeout_reschedule(s, when)) != 0) {
    free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int coio_timeout_enter(double delay, coio_timeout_t **out) {
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if ((rc = coio__check_timeout(delay)) != 0)
    return rc;
  if (!coio__task_current())
    return COIO_ENOTASK;
  return coio_timeout_enter_at(
      isinf(delay) ? COIO_NO_TIMEOUT : coio_loop_time(coio__task_current()->fut.loop) + delay, out);
}

double coio_timeout_when(const coio_timeout_t *s) { return s ? s->when : COIO_NO_TIMEOUT; }

int coio_timeout_expired(const coio_timeout_t *s) { return s && s->state != ENTERED; }

int coio_timeout_exit(coio_timeout_t *s, int status) {
  if (!s)
    return COIO_EINVAL;
  if (coio__task_current() != s->task)
    return COIO_ENOTASK;
  coio_handle_cancel(s->task->fut.loop, s->timer);
  if (s->state == EXPIRING) {
    s->state = EXPIRED;
    if (coio_task_uncancel(&s->task->fut) <= s->cancelling && status == COIO_ECANCELED)
      status = COIO_ETIMEDOUT;
  }
  free(s);
  return status;
}

int coio_wait_for(coio_future_t *fut, double timeout) {
  coio__task_t *t = coio__task_current();
  coio_timeout_t *scope;
  int rc;
  if (!t)
    return COIO_ENOTASK;
  if (!fut || coio_future_loop(fut) != t->fut.loop)
    return COIO_EINVAL;
  if ((rc = coio__check_timeout(timeout)) != 0)
    return rc;
  if ((rc = coio_timeout_enter(timeout, &scope)) != 0)
    return rc;
  /* On expiry the task is cancelled, which cancels fut (the awaited
   * future) and waits until it has ended, as asyncio.wait_for does. */
  rc = coio_await(fut);
  return coio_timeout_exit(scope, rc);
}
