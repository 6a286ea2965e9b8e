/* common/future_internal.h - the future object, for the files of common/
 * that build on it: a task (task.c) is a future with a coroutine. */
#ifndef COIO_COMMON_FUTURE_INTERNAL_H
#define COIO_COMMON_FUTURE_INTERNAL_H

#include "coio/future.h"

typedef struct coio__done_cb {
  coio_future_cb fn;
  void *arg;
} coio__done_cb_t;

/* What a kind of future does differently from a plain one. */
typedef struct coio__future_ops {
  /* coio_future_cancel on this future (a task turns it into a request). */
  int (*cancel)(coio_future_t *fut, const char *message);
  /* The last reference is going: release what the kind added (the memory
   * of the object itself is freed by future.c). */
  void (*finalize)(coio_future_t *fut);
} coio__future_ops_t;

struct coio_future {
  coio_loop_t *loop;
  const coio__future_ops_t *ops; /* NULL for a plain future */
  long refs;
  coio_future_state_t state;
  int error;
  char *message;
  void *value;
  void (*dtor)(void *);
  coio__done_cb_t *cbs;
  size_t ncbs, cbs_cap;
};

/* Initialises a future embedded at the start of a larger object of size
 * bytes, allocated by the caller with calloc (future.c frees it). */
void coio__future_init(coio_future_t *fut, coio_loop_t *loop, const coio__future_ops_t *ops);

/* The plain cancel, for kinds whose ops->cancel decides to really cancel. */
int coio__future_cancel_now(coio_future_t *fut, const char *message);

/* Takes the result value out: the caller owns it, the destructor is not
 * called. NULL if the future has no value. */
void *coio__future_steal_result(coio_future_t *fut);

/* Marks a pending future cancelled without scheduling its callbacks (the
 * loop is closing: nothing will run any more). */
void coio__future_abandon(coio_future_t *fut, const char *message);

#endif
