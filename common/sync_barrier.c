/* common/sync_barrier.c - Barrier (asyncio.Barrier).
 *
 * asyncio's state machine: FILLING (tasks arrive), DRAINING (the round is
 * complete and its tasks are leaving), RESETTING (reset while tasks were
 * inside), BROKEN (aborted). Tasks arriving while DRAINING or RESETTING
 * wait in `blocked` until the last task of the round has left (count back
 * to 0), then arrive in the next round.
 *
 * Differences from asyncio, both from completing each waiter with its
 * outcome at the moment it is decided (rather than having it re-read the
 * state when it runs): a task released by a full round returns its index
 * even if reset is called before it runs, and reset/abort are plain calls
 * (asyncio's take the condition's lock; here nothing can interleave).
 *
 * Cancellation: a task cancelled while waiting leaves the round (count
 * drops, as in asyncio). Every wake-up here is a broadcast, so a cancelled
 * task has nothing to pass on. */
#include <stdlib.h>

#include "coio/error.h"
#include "coio/sync.h"
#include "waiters.h"

enum { FILLING, DRAINING, RESETTING, BROKEN };

struct coio_barrier {
  coio_loop_t *loop;
  size_t parties;
  int state;
  size_t count;          /* tasks inside wait, from arrival until they leave */
  coio__waitq_t waiting; /* arrived in the round being filled */
  coio__waitq_t blocked; /* waiting for the previous round to drain */
  size_t busy;
};

int coio_barrier_new(coio_loop_t *loop, size_t parties, coio_barrier_t **out) {
  coio_barrier_t *b;
  if (out)
    *out = NULL;
  if (!loop || !out || parties == 0)
    return COIO_EINVAL;
  if (coio__sync_closed(loop))
    return COIO_ECLOSED;
  if (!(b = calloc(1, sizeof *b)))
    return COIO_ENOMEM;
  b->loop = loop;
  b->parties = parties;
  b->state = FILLING;
  *out = b;
  return 0;
}

int coio_barrier_free(coio_barrier_t *b) {
  if (!b)
    return 0;
  if (b->busy)
    return COIO_EBUSY;
  coio__waitq_clear(&b->waiting);
  coio__waitq_clear(&b->blocked);
  free(b);
  return 0;
}

/* A task leaves the barrier (asyncio's _exit). */
static void leave(coio_barrier_t *b) {
  if (--b->count == 0) {
    if (b->state == DRAINING || b->state == RESETTING)
      b->state = FILLING;
    coio__waitq_wake_all(&b->blocked, 0);
  }
}

int coio_barrier_wait(coio_barrier_t *b, size_t *index) {
  coio__waiter_t *w;
  size_t idx;
  int rc, granted;
  if (index)
    *index = 0;
  if (!b)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(b->loop)) != 0)
    return rc;
  b->busy++;
  /* Wait for the previous round to drain (asyncio's _block). */
  while (b->state == DRAINING || b->state == RESETTING) {
    if ((rc = coio__waitq_push(&b->blocked, b->loop, &w)) != 0 ||
        (rc = coio__waiter_wait(w, &granted)) != 0)
      goto out;
  }
  if (b->state == BROKEN) {
    rc = COIO_EINVALSTATE;
    goto out;
  }
  idx = b->count++;
  if (idx + 1 == b->parties) {
    /* The round is complete: release it. */
    b->state = DRAINING;
    coio__waitq_wake_all(&b->waiting, 0);
    rc = 0;
  } else if ((rc = coio__waitq_push(&b->waiting, b->loop, &w)) == 0) {
    /* 0: released; COIO_EINVALSTATE: reset or aborted; COIO_ECANCELED. */
    rc = coio__waiter_wait(w, &granted);
  }
  leave(b);
  if (rc == 0 && index)
    *index = idx;
out:
  b->busy--;
  return rc;
}

int coio_barrier_reset(coio_barrier_t *b) {
  if (!b)
    return COIO_EINVAL;
  if (coio__sync_closed(b->loop))
    return COIO_ECLOSED;
  if (b->count > 0) {
    /* Tasks are inside: the ones still waiting fail; the state returns to
     * FILLING when the last one has left. */
    b->state = RESETTING;
    coio__waitq_wake_all(&b->waiting, COIO_EINVALSTATE);
  } else {
    b->state = FILLING;
    coio__waitq_wake_all(&b->blocked, 0);
  }
  return 0;
}

int coio_barrier_abort(coio_barrier_t *b) {
  if (!b)
    return COIO_EINVAL;
  if (coio__sync_closed(b->loop))
    return COIO_ECLOSED;
  b->state = BROKEN;
  coio__waitq_wake_all(&b->waiting, COIO_EINVALSTATE);
  coio__waitq_wake_all(&b->blocked, 0); /* they see BROKEN when they run */
  return 0;
}

size_t coio_barrier_parties(const coio_barrier_t *b) { return b ? b->parties : 0; }

size_t coio_barrier_n_waiting(const coio_barrier_t *b) {
  return b && b->state == FILLING ? b->count : 0;
}

int coio_barrier_broken(const coio_barrier_t *b) { return b ? b->state == BROKEN : 0; }
