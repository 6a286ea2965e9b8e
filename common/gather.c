/* common/gather.c - coio_gather, asyncio.gather. The gathering future
 * embeds the list of its children; each child's done callback holds a
 * reference to it until the child is done. */
#include <stdlib.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"

typedef struct gathering {
  coio_future_t fut; /* first */
  coio_future_t **children;
  size_t n, ndone;
  int flags;
  int cancel_requested;
} gathering_t;

static int gather_cancel(coio_future_t *fut, const char *message) {
  gathering_t *g = (gathering_t *)fut;
  size_t i;
  int any = 0;
  if (fut->state != COIO_FUTURE_PENDING)
    return COIO_EINVALSTATE;
  for (i = 0; i < g->n; i++)
    if (!coio_future_done(g->children[i]) && coio_future_cancel(g->children[i], message) == 0)
      any = 1;
  if (!any)
    return coio__future_cancel_now(fut, message);
  /* Ends cancelled once the children have (see on_child). */
  g->cancel_requested = 1;
  return 0;
}

static void gather_finalize(coio_future_t *fut) {
  gathering_t *g = (gathering_t *)fut;
  size_t i;
  for (i = 0; i < g->n; i++)
    coio_future_unref(g->children[i]);
  free(g->children);
}

static const coio__future_ops_t gather_ops = {gather_cancel, gather_finalize};

static void on_child(coio_future_t *child, void *arg) {
  gathering_t *g = arg;
  coio_future_t *fut = &g->fut;
  g->ndone++;
  if (fut->state == COIO_FUTURE_PENDING) {
    int rc = coio_future_result(child, NULL);
    if (rc != 0 && !(g->flags & COIO_GATHER_COLLECT_ERRORS) && !g->cancel_requested) {
      if (rc == COIO_ECANCELED)
        coio__future_cancel_now(fut, coio_future_message(child));
      else
        coio_future_set_error(fut, rc, coio_future_message(child));
    } else if (g->ndone == g->n) {
      if (g->cancel_requested)
        coio__future_cancel_now(fut, NULL);
      else
        coio_future_set_result(fut, NULL, NULL);
    }
  }
  coio_future_unref(fut); /* the reference this callback held */
}

int coio_gather(coio_loop_t *loop, coio_future_t *const *futs, size_t n, int flags,
                coio_future_t **out) {
  gathering_t *g;
  size_t i;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !out || (n && !futs) || (flags & ~COIO_GATHER_COLLECT_ERRORS))
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  for (i = 0; i < n; i++)
    if (!futs[i] || coio_future_loop(futs[i]) != loop)
      return COIO_EINVAL;
  g = calloc(1, sizeof *g);
  if (!g || (n && !(g->children = malloc(n * sizeof *g->children)))) {
    free(g);
    return COIO_ENOMEM;
  }
  coio__future_init(&g->fut, loop, &gather_ops);
  g->flags = flags;
  for (i = 0; i < n; i++) {
    g->children[g->n++] = coio_future_ref(futs[i]);
    coio_future_ref(&g->fut);
    if ((rc = coio_future_add_done_callback(futs[i], on_child, g)) != 0) {
      coio_future_unref(&g->fut);
      coio__future_cancel_now(&g->fut, "out of memory");
      coio_future_unref(&g->fut);
      return rc;
    }
  }
  if (n == 0)
    coio_future_set_result(&g->fut, NULL, NULL);
  *out = &g->fut;
  return 0;
}
