/* common/taskgroup.c - task groups (asyncio.TaskGroup, 3.11+ semantics).
 *
 * The first child to fail aborts the group (cancels the other children)
 * and cancels the parent task once, so that whatever the parent's body is
 * awaiting is interrupted; wait() withdraws that request (uncancel), so the
 * parent is not left cancelled by the group: only a cancellation from
 * outside propagates as COIO_ECANCELED, and only if no child failed.
 * Children's done callbacks name the group: wait() returns only when every
 * child has ended and its callback has run, so a waited group can be freed. */
#include <stdlib.h>

#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"

typedef struct group_error {
  int code;
  coio_task_t *task;
} group_error_t;

struct coio_task_group {
  coio__task_t *parent;
  coio_task_t **children; /* every child spawned, referenced */
  size_t nchildren, cap;
  size_t running;
  group_error_t *errors;
  size_t nerrors, errcap;
  coio_future_t *on_completed; /* what wait() awaits, or NULL */
  int exiting, finished, aborting, parent_cancel_requested;
};

int coio_task_group_new(coio_task_group_t **out) {
  coio__task_t *t = coio__task_current();
  coio_task_group_t *g;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!t)
    return COIO_ENOTASK;
  if (!(g = calloc(1, sizeof *g)))
    return COIO_ENOMEM;
  g->parent = t;
  *out = g;
  return 0;
}

static int add_error(coio_task_group_t *g, int code, coio_task_t *task) {
  if (g->nerrors == g->errcap) {
    size_t ncap = g->errcap ? g->errcap * 2 : 4;
    group_error_t *n = realloc(g->errors, ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    g->errors = n;
    g->errcap = ncap;
  }
  g->errors[g->nerrors].code = code;
  g->errors[g->nerrors].task = task;
  g->nerrors++;
  return 0;
}

static void abort_children(coio_task_group_t *g) {
  size_t i;
  g->aborting = 1;
  for (i = 0; i < g->nchildren; i++)
    if (!coio_future_done(g->children[i]))
      coio_task_cancel(g->children[i], NULL);
}

static void on_child_done(coio_future_t *child, void *arg) {
  coio_task_group_t *g = arg;
  int rc;
  g->running--;
  if (g->running == 0 && g->on_completed && !coio_future_done(g->on_completed))
    coio_future_set_result(g->on_completed, NULL, NULL);
  rc = coio_future_result(child, NULL);
  if (rc == 0 || rc == COIO_ECANCELED)
    return;
  add_error(g, rc, child); /* out of memory: not listed, but the abort still happens */
  if (!g->aborting && !g->parent_cancel_requested) {
    abort_children(g);
    g->parent_cancel_requested = 1;
    coio_task_cancel(&g->parent->fut, NULL);
  }
}

int coio_task_group_spawn(coio_task_group_t *g, coio_task_fn fn, void *arg,
                          const coio_task_options_t *opts, coio_task_t **out) {
  coio_task_t *t;
  int rc;
  if (out)
    *out = NULL;
  if (!g || !fn)
    return COIO_EINVAL;
  if (g->finished || g->aborting || (g->exiting && g->running == 0))
    return COIO_EINVALSTATE;
  if (g->nchildren == g->cap) {
    size_t ncap = g->cap ? g->cap * 2 : 8;
    coio_task_t **n = realloc(g->children, ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    g->children = n;
    g->cap = ncap;
  }
  if ((rc = coio_task_spawn(g->parent->fut.loop, fn, arg, opts, &t)) != 0)
    return rc;
  if ((rc = coio_future_add_done_callback(t, on_child_done, g)) != 0) {
    coio_task_cancel(t, NULL);
    coio_future_unref(t);
    return rc;
  }
  g->children[g->nchildren++] = t;
  g->running++;
  if (out)
    *out = coio_future_ref(t);
  return 0;
}

int coio_task_group_wait(coio_task_group_t *g, int body_status) {
  int propagate_cancel, rc;
  if (!g)
    return COIO_EINVAL;
  if (coio__task_current() != g->parent)
    return COIO_ENOTASK;
  if (g->finished || g->exiting)
    return COIO_EINVALSTATE;
  g->exiting = 1;
  propagate_cancel = body_status == COIO_ECANCELED;
  if (body_status != 0 && !g->aborting)
    abort_children(g);
  while (g->running > 0) {
    if ((rc = coio_future_new(g->parent->fut.loop, &g->on_completed)) != 0)
      return rc; /* out of memory: the group stays unfinished (free refuses) */
    rc = coio_await(g->on_completed);
    coio_future_unref(g->on_completed);
    g->on_completed = NULL;
    if (rc == COIO_ECANCELED && !g->aborting) {
      /* the parent is being cancelled from outside while children run */
      propagate_cancel = 1;
      abort_children(g);
    }
  }
  if (g->parent_cancel_requested && coio_task_uncancel(&g->parent->fut) == 0)
    propagate_cancel = 0; /* the only request was ours */
  g->finished = 1;
  if (propagate_cancel && g->nerrors == 0)
    return COIO_ECANCELED;
  if (body_status != 0 && body_status != COIO_ECANCELED)
    add_error(g, body_status, NULL);
  return g->nerrors ? g->errors[0].code : 0;
}

size_t coio_task_group_error_count(const coio_task_group_t *g) { return g ? g->nerrors : 0; }

int coio_task_group_error(const coio_task_group_t *g, size_t i, coio_task_t **task) {
  if (task)
    *task = NULL;
  if (!g || i >= g->nerrors)
    return COIO_EINVAL;
  if (task)
    *task = g->errors[i].task;
  return g->errors[i].code;
}

int coio_task_group_free(coio_task_group_t *g) {
  size_t i;
  if (!g)
    return 0;
  if (g->running > 0)
    return COIO_EBUSY;
  for (i = 0; i < g->nchildren; i++)
    coio_future_unref(g->children[i]);
  free(g->children);
  free(g->errors);
  free(g);
  return 0;
}
