/* common/sync_queue.c - Queue, LifoQueue and PriorityQueue (asyncio, with
 * Python 3.13's shutdown).
 *
 * Items stay in the queue until a getter takes them, as in asyncio: waking
 * a getter does not hand it an item, it sets one aside. getters_woken
 * counts getters woken and not yet run; that many items are reserved for
 * them and nobody else (get_nowait, a new get) may take them, so a woken
 * getter always finds an item when it runs (unless an immediate shutdown
 * dropped them all). Symmetrically putters_woken reserves free slots for
 * woken putters. asyncio lets get_nowait take the item a woken getter was
 * woken for (the getter then queues again at the back); reserving keeps
 * waiters strictly first come, first served.
 *
 * Invariants: a pending getter implies no unreserved item, a pending putter
 * implies no unreserved slot; wake_getters/wake_putters restore them after
 * every change (an item stored, an item taken, a reservation given back).
 *
 * Cancellation: a getter (putter) woken and cancelled before it ran gives
 * its reservation back and wakes the next one (asyncio's "we were woken up
 * by get_nowait(), but can't take the call; wake up the next in line"). A
 * getter or putter cancelled before being woken just leaves the line.
 *
 * Storage: one growable array of entries used as a ring (FIFO), a stack
 * (LIFO) or a binary min-heap on (priority, compare, arrival) (PRIORITY). */
#include <stdint.h>
#include <stdlib.h>

#include "coio/error.h"
#include "coio/sync.h"
#include "waiters.h"

typedef struct entry {
  void *item;
  int64_t prio;
  uint64_t seq; /* arrival order: keeps equal priorities stable */
} entry_t;

struct coio_queue {
  coio_loop_t *loop;
  coio_queue_kind_t kind;
  size_t maxsize;
  coio_queue_compare_fn compare;
  void *compare_data;
  void (*dtor)(void *);
  entry_t *ent;
  size_t cap, head, len; /* head: the ring's start (FIFO only) */
  uint64_t seq;
  size_t unfinished; /* items put and not yet task_done */
  int shutdown;
  coio__waitq_t getters, putters, joiners;
  size_t getters_woken, putters_woken;
  size_t busy;
};

/* ---- storage --------------------------------------------------------------- */

static int before(const coio_queue_t *q, const entry_t *a, const entry_t *b) {
  if (a->prio != b->prio)
    return a->prio < b->prio;
  if (q->compare) {
    int c = q->compare(a->item, b->item, q->compare_data);
    if (c != 0)
      return c < 0;
  }
  return a->seq < b->seq;
}

static int grow(coio_queue_t *q) {
  size_t ncap, i;
  entry_t *n;
  if (q->len < q->cap)
    return 0;
  ncap = q->cap ? q->cap * 2 : 8;
  if (ncap < q->cap || ncap > SIZE_MAX / sizeof *n)
    return COIO_ENOMEM;
  if (!(n = malloc(ncap * sizeof *n)))
    return COIO_ENOMEM;
  for (i = 0; i < q->len; i++) /* unrolls the ring; a no-op order for the others */
    n[i] = q->ent[(q->head + i) % q->cap];
  free(q->ent);
  q->ent = n;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

static int store_push(coio_queue_t *q, void *item, int64_t prio) {
  entry_t e;
  size_t i;
  int rc;
  if ((rc = grow(q)) != 0)
    return rc;
  e.item = item;
  e.prio = prio;
  e.seq = q->seq++;
  switch (q->kind) {
  case COIO_QUEUE_FIFO:
    q->ent[(q->head + q->len) % q->cap] = e;
    break;
  case COIO_QUEUE_LIFO:
    q->ent[q->len] = e;
    break;
  default: /* PRIORITY: sift up */
    i = q->len;
    while (i > 0 && before(q, &e, &q->ent[(i - 1) / 2])) {
      q->ent[i] = q->ent[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    q->ent[i] = e;
    break;
  }
  q->len++;
  return 0;
}

static void *store_pop(coio_queue_t *q) {
  void *item;
  entry_t last;
  size_t i, c;
  switch (q->kind) {
  case COIO_QUEUE_FIFO:
    item = q->ent[q->head].item;
    q->head = (q->head + 1) % q->cap;
    q->len--;
    return item;
  case COIO_QUEUE_LIFO:
    return q->ent[--q->len].item;
  default: /* PRIORITY: take the root, sift the last entry down */
    item = q->ent[0].item;
    last = q->ent[--q->len];
    i = 0;
    while ((c = 2 * i + 1) < q->len) {
      if (c + 1 < q->len && before(q, &q->ent[c + 1], &q->ent[c]))
        c++;
      if (!before(q, &q->ent[c], &last))
        break;
      q->ent[i] = q->ent[c];
      i = c;
    }
    if (q->len > 0)
      q->ent[i] = last;
    return item;
  }
}

/* Drops every item (item_dtor on each); returns how many. */
static size_t store_drop_all(coio_queue_t *q) {
  size_t n = 0;
  while (q->len > 0) {
    void *item = store_pop(q);
    if (q->dtor)
      q->dtor(item);
    n++;
  }
  return n;
}

/* ---- reservations ---------------------------------------------------------- */

static size_t free_items(const coio_queue_t *q) {
  return q->len > q->getters_woken ? q->len - q->getters_woken : 0;
}

static size_t free_slots(const coio_queue_t *q) {
  size_t used = q->len + q->putters_woken;
  if (q->maxsize == 0)
    return SIZE_MAX;
  return used < q->maxsize ? q->maxsize - used : 0;
}

static void wake_getters(coio_queue_t *q) {
  while (free_items(q) > 0 && coio__waitq_wake_first(&q->getters, 0))
    q->getters_woken++;
}

static void wake_putters(coio_queue_t *q) {
  while (free_slots(q) > 0 && coio__waitq_wake_first(&q->putters, 0))
    q->putters_woken++;
}

/* Stores item in a free slot (the caller checked there is one). */
static int put_item(coio_queue_t *q, void *item, int64_t prio) {
  int rc = store_push(q, item, prio);
  if (rc != 0)
    return rc;
  q->unfinished++;
  wake_getters(q);
  return 0;
}

/* Takes an unreserved item (the caller checked there is one). */
static void *get_item(coio_queue_t *q) {
  void *item = store_pop(q);
  wake_putters(q);
  return item;
}

/* ---- the API ------------------------------------------------------------------ */

int coio_queue_new(coio_loop_t *loop, const coio_queue_options_t *opts, coio_queue_t **out) {
  coio_queue_t *q;
  if (out)
    *out = NULL;
  if (!loop || !out)
    return COIO_EINVAL;
  if (opts && opts->kind != COIO_QUEUE_FIFO && opts->kind != COIO_QUEUE_LIFO &&
      opts->kind != COIO_QUEUE_PRIORITY)
    return COIO_EINVAL;
  if (opts && opts->compare && opts->kind != COIO_QUEUE_PRIORITY)
    return COIO_EINVAL;
  if (coio__sync_closed(loop))
    return COIO_ECLOSED;
  if (!(q = calloc(1, sizeof *q)))
    return COIO_ENOMEM;
  q->loop = loop;
  if (opts) {
    q->kind = opts->kind;
    q->maxsize = opts->maxsize;
    q->compare = opts->compare;
    q->compare_data = opts->compare_data;
    q->dtor = opts->item_dtor;
  }
  *out = q;
  return 0;
}

int coio_queue_free(coio_queue_t *q) {
  if (!q)
    return 0;
  if (q->busy)
    return COIO_EBUSY;
  store_drop_all(q);
  coio__waitq_clear(&q->getters);
  coio__waitq_clear(&q->putters);
  coio__waitq_clear(&q->joiners);
  free(q->ent);
  free(q);
  return 0;
}

static int queue_put(coio_queue_t *q, void *item, int64_t prio) {
  coio__waiter_t *w;
  int rc, granted;
  if ((rc = coio__sync_enter(q->loop)) != 0)
    return rc;
  q->busy++;
  for (;;) {
    if (q->shutdown) {
      rc = COIO_ESHUTDOWN;
      break;
    }
    if (free_slots(q) > 0) {
      rc = put_item(q, item, prio);
      break;
    }
    if ((rc = coio__waitq_push(&q->putters, q->loop, &w)) != 0)
      break;
    rc = coio__waiter_wait(w, &granted);
    if (granted)
      q->putters_woken--; /* the slot set aside for us is free again */
    if (rc != 0)
      break;
  }
  /* On failure a slot we gave back (or freed by a failed store) goes to
   * the next putter in line; a no-op when there is none to give. */
  if (rc != 0)
    wake_putters(q);
  q->busy--;
  return rc;
}

int coio_queue_put(coio_queue_t *q, void *item) { return q ? queue_put(q, item, 0) : COIO_EINVAL; }

int coio_queue_put_priority(coio_queue_t *q, void *item, int64_t priority) {
  if (!q || q->kind != COIO_QUEUE_PRIORITY)
    return COIO_EINVAL;
  return queue_put(q, item, priority);
}

static int queue_put_nowait(coio_queue_t *q, void *item, int64_t prio) {
  if (coio__sync_closed(q->loop))
    return COIO_ECLOSED;
  if (q->shutdown)
    return COIO_ESHUTDOWN;
  if (free_slots(q) == 0)
    return COIO_EAGAIN;
  return put_item(q, item, prio);
}

int coio_queue_put_nowait(coio_queue_t *q, void *item) {
  return q ? queue_put_nowait(q, item, 0) : COIO_EINVAL;
}

int coio_queue_put_nowait_priority(coio_queue_t *q, void *item, int64_t priority) {
  if (!q || q->kind != COIO_QUEUE_PRIORITY)
    return COIO_EINVAL;
  return queue_put_nowait(q, item, priority);
}

int coio_queue_get(coio_queue_t *q, void **item) {
  coio__waiter_t *w;
  int rc, granted;
  if (item)
    *item = NULL;
  if (!q || !item)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(q->loop)) != 0)
    return rc;
  q->busy++;
  for (;;) {
    if (free_items(q) > 0) {
      *item = get_item(q);
      rc = 0;
      break;
    }
    if (q->shutdown) {
      rc = COIO_ESHUTDOWN;
      break;
    }
    if ((rc = coio__waitq_push(&q->getters, q->loop, &w)) != 0)
      break;
    rc = coio__waiter_wait(w, &granted);
    if (granted)
      q->getters_woken--; /* the item set aside for us is free again: take it */
    if (rc != 0)
      break;
  }
  if (rc != 0)
    wake_getters(q); /* an item we gave back goes to the next getter */
  q->busy--;
  return rc;
}

int coio_queue_get_nowait(coio_queue_t *q, void **item) {
  if (item)
    *item = NULL;
  if (!q || !item)
    return COIO_EINVAL;
  if (coio__sync_closed(q->loop))
    return COIO_ECLOSED;
  if (free_items(q) == 0)
    return q->shutdown ? COIO_ESHUTDOWN : COIO_EAGAIN;
  *item = get_item(q);
  return 0;
}

size_t coio_queue_qsize(const coio_queue_t *q) { return q ? q->len : 0; }

size_t coio_queue_maxsize(const coio_queue_t *q) { return q ? q->maxsize : 0; }

int coio_queue_empty(const coio_queue_t *q) { return q ? q->len == 0 : 0; }

int coio_queue_full(const coio_queue_t *q) {
  return q ? q->maxsize > 0 && q->len >= q->maxsize : 0;
}

int coio_queue_task_done(coio_queue_t *q) {
  if (!q)
    return COIO_EINVAL;
  if (coio__sync_closed(q->loop))
    return COIO_ECLOSED;
  if (q->unfinished == 0)
    return COIO_ERANGE;
  if (--q->unfinished == 0)
    coio__waitq_wake_all(&q->joiners, 0);
  return 0;
}

int coio_queue_join(coio_queue_t *q) {
  coio__waiter_t *w;
  int rc, granted;
  if (!q)
    return COIO_EINVAL;
  if ((rc = coio__sync_enter(q->loop)) != 0)
    return rc;
  if (q->unfinished == 0)
    return 0;
  if ((rc = coio__waitq_push(&q->joiners, q->loop, &w)) != 0)
    return rc;
  q->busy++;
  rc = coio__waiter_wait(w, &granted); /* a broadcast: nothing to pass on */
  q->busy--;
  return rc;
}

int coio_queue_shutdown(coio_queue_t *q, int immediate) {
  size_t dropped;
  if (!q)
    return COIO_EINVAL;
  if (coio__sync_closed(q->loop))
    return COIO_ECLOSED;
  q->shutdown = 1;
  if (immediate) {
    dropped = store_drop_all(q);
    q->unfinished = q->unfinished > dropped ? q->unfinished - dropped : 0;
    if (q->unfinished == 0)
      coio__waitq_wake_all(&q->joiners, 0);
  }
  /* A pending getter means every item left is set aside for a woken
   * getter, so the pending ones will never get one; putters fail. Woken
   * ones find out when they run. */
  coio__waitq_wake_all(&q->getters, COIO_ESHUTDOWN);
  coio__waitq_wake_all(&q->putters, COIO_ESHUTDOWN);
  return 0;
}

int coio_queue_is_shutdown(const coio_queue_t *q) { return q ? q->shutdown : 0; }
