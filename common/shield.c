/* common/shield.c - coio_shield (asyncio.shield): an outer future that
 * mirrors inner, so that cancelling the outer (as a cancelled task's await
 * does) leaves inner running. The outer holds a reference to inner, whose
 * value it shares. */
#include <stdlib.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"

typedef struct shield {
  coio_future_t fut; /* first */
  coio_future_t *inner;
} shield_t;

static void shield_finalize(coio_future_t *fut) { coio_future_unref(((shield_t *)fut)->inner); }

static const coio__future_ops_t shield_ops = {NULL, shield_finalize};

static void copy_outcome(coio_future_t *to, coio_future_t *from) {
  void *v;
  int rc = coio_future_result(from, &v);
  if (rc == 0)
    coio_future_set_result(to, v, NULL); /* the value stays inner's */
  else if (rc == COIO_ECANCELED)
    coio__future_cancel_now(to, coio_future_message(from));
  else
    coio_future_set_error(to, rc, coio_future_message(from));
}

static void on_inner_done(coio_future_t *inner, void *arg) {
  shield_t *s = arg;
  if (!coio_future_done(&s->fut))
    copy_outcome(&s->fut, inner);
  coio_future_unref(&s->fut);
}

int coio_shield(coio_future_t *inner, coio_future_t **out) {
  shield_t *s;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!inner)
    return COIO_EINVAL;
  if (coio_future_done(inner)) { /* asyncio returns inner itself */
    *out = coio_future_ref(inner);
    return 0;
  }
  if (!(s = calloc(1, sizeof *s)))
    return COIO_ENOMEM;
  coio__future_init(&s->fut, coio_future_loop(inner), &shield_ops);
  s->inner = coio_future_ref(inner);
  coio_future_ref(&s->fut); /* the callback's */
  if ((rc = coio_future_add_done_callback(inner, on_inner_done, s)) != 0) {
    coio_future_unref(&s->fut);
    coio_future_unref(&s->fut);
    return rc;
  }
  *out = &s->fut;
  return 0;
}
