/* coio/future.h - futures: a result that will be available later.
 *
 * Ownership: futures are reference counted. coio_future_new returns one
 * reference; coio_future_ref adds one, coio_future_unref drops one, and the
 * last drop frees the future (and calls the result's destructor). A done
 * callback holds its own reference until it has run. A future belongs to one
 * loop and must be used from that loop's thread.
 *
 * Done callbacks are never run inside the call that completes the future:
 * completion schedules them on the loop (asyncio's rule), in the order they
 * were added. */
#ifndef COIO_FUTURE_H
#define COIO_FUTURE_H

#include "loop.h"

COIO_BEGIN_DECLS

typedef enum coio_future_state {
  COIO_FUTURE_PENDING = 0,
  COIO_FUTURE_DONE = 1,     /* finished with a result or an error */
  COIO_FUTURE_CANCELLED = 2
} coio_future_state_t;

typedef void (*coio_future_cb)(coio_future_t *fut, void *user_data);

/* A new pending future of loop. COIO_ECLOSED on a closed loop. */
COIO_API int coio_future_new(coio_loop_t *loop, coio_future_t **out);
COIO_API coio_future_t *coio_future_ref(coio_future_t *fut);
COIO_API void coio_future_unref(coio_future_t *fut); /* NULL is a no-op */

COIO_API coio_loop_t *coio_future_loop(const coio_future_t *fut);
COIO_API coio_future_state_t coio_future_state(const coio_future_t *fut);
COIO_API int coio_future_done(const coio_future_t *fut);      /* done or cancelled */
COIO_API int coio_future_cancelled(const coio_future_t *fut);

/* Completes the future with value; dtor (may be NULL) is called on value
 * when the future is freed. COIO_EINVALSTATE if already done (value is not
 * taken then: the caller still owns it). */
COIO_API int coio_future_set_result(coio_future_t *fut, void *value, void (*dtor)(void *));

/* Completes the future with an error: code must be a negative COIO_E* code
 * other than COIO_ECANCELED (use coio_future_cancel), else COIO_EINVAL.
 * message (may be NULL) is copied. COIO_EINVALSTATE if already done. */
COIO_API int coio_future_set_error(coio_future_t *fut, int code, const char *message);

/* Cancels a pending future, keeping message (may be NULL; copied). 0 if it
 * was cancelled now, COIO_EINVALSTATE if it was already done. */
COIO_API int coio_future_cancel(coio_future_t *fut, const char *message);

/* The outcome: 0 with *value set (value may be NULL) when done with a
 * result, the error code when done with an error, COIO_ECANCELED when
 * cancelled, COIO_EINVALSTATE while pending. The value stays owned by the
 * future. */
COIO_API int coio_future_result(const coio_future_t *fut, void **value);

/* The error or cancel message, or NULL. Valid while the future lives. */
COIO_API const char *coio_future_message(const coio_future_t *fut);

/* Adds a done callback; on a done future it is scheduled at once. */
COIO_API int coio_future_add_done_callback(coio_future_t *fut, coio_future_cb cb, void *user_data);

/* Removes every pending registration of (cb, user_data) that has not been
 * scheduled yet; returns how many were removed (0 or more). */
COIO_API int coio_future_remove_done_callback(coio_future_t *fut, coio_future_cb cb,
                                              void *user_data);

COIO_END_DECLS

#endif /* COIO_FUTURE_H */
