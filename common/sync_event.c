/* common/sync_event.c - Event (asyncio.Event): a flag tasks wait for. set
 * wakes every waiter at once; a waiter woken and then cancelled before it
 * ran reports the cancel (as asyncio does): nothing is lost, since the
 * flag itself stays set for anyone who checks it. */
#include <stdlib.h>

#include "coio/error.h"
#include "coio/sync.h"
#include "waiters.h"

struct coio_event {
  coio_loop_t *loop;
  int set;
  coio__waitq_t waiters;
  size_t busy;
};

int coio_event_new(coio_loop_t *loop, coio_event_t **out) {
  coio_event_t *ev;
  if (out)
    *out = NULL;
  if (!loop || !out)
    return COIO_EINVAL;
  if (coio__sync_closed(loop))
    return COIO_ECLOSED;
  if (!(ev = calloc(1, sizeof *ev)))
    return COIO_ENOMEM;
  ev->loop = loop;
  *out = ev;
  return 0;
}

int coio_event_free(coio_event_t *ev) {
  if (!ev)
    return 0;
  if (ev->busy)
    return COIO_EBUSY;
  coio__waitq_clear(&ev->waiters);
  free(ev);
  return 0;
}

int coio_event_set(coio_event_t *ev) {
  if (!ev)
    return COIO_EINVAL;
  if (coio__sync_closed(ev->loop))
    return COIO_ECLOSED;
  if (!ev->set) {
    ev->set = 1;
    coio__waitq_wake_all(&ev->waiters, 0);
  }
  return 0;
}

int coio_event_clear(coio_event_t *ev) {
  if (!ev)
    return COIO_EINVAL;
  if (coio__sync_closed(ev->loop))
    return COIO_ECLOSED;
  ev->set = 0;
  return 0;
}

int coio_event_is_set(const coio_event_t *ev) { return ev ? ev->set : 0; }

int coio_event_wait(coio_event_t *ev) {
  coio__waiter_t *w;
  int rc, granted;
  if (!ev)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(ev->loop)) != 0)
    return rc;
  if (ev->set)
    return 0;
  if ((rc = coio__waitq_push(&ev->waiters, ev->loop, &w)) != 0)
    return rc;
  ev->busy++;
  rc = coio__waiter_wait(w, &granted); /* a broadcast: nothing to pass on */
  ev->busy--;
  return rc;
}
