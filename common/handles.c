/* common/handles.c - scheduled callbacks: the record slab, the ready ring
 * and the timer heap, and the public call_soon / call_later / call_at /
 * handle_cancel built on them.
 *
 * Invariant: a record is in exactly one place: the free list (FREE), the
 * ready ring (READY or CANCELLED), or the timer heap (TIMER). Its generation
 * changes whenever it returns to the free list, so a handle that names an
 * older generation refers to nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "loop_internal.h"

static coio__cb_t *slot(coio_loop_t *loop, uint32_t i) {
  return &loop->chunks[i >> COIO__CB_CHUNK_SHIFT][i & (COIO__CB_CHUNK - 1)];
}

static int grow_slots(coio_loop_t *loop) {
  coio__cb_t **chunks;
  coio__cb_t *c;
  uint32_t base, i;
  if (loop->nchunks >= (UINT32_MAX >> COIO__CB_CHUNK_SHIFT) - 1)
    return COIO_ENOMEM;
  chunks = realloc(loop->chunks, (loop->nchunks + 1) * sizeof *chunks);
  if (!chunks)
    return COIO_ENOMEM;
  loop->chunks = chunks;
  c = calloc(COIO__CB_CHUNK, sizeof *c);
  if (!c)
    return COIO_ENOMEM;
  chunks[loop->nchunks] = c;
  base = loop->nchunks << COIO__CB_CHUNK_SHIFT;
  loop->nchunks++;
  /* Thread the new records onto the free list in index order. */
  for (i = COIO__CB_CHUNK; i-- > 0;) {
    c[i].gen = 1;
    c[i].state = COIO__CB_FREE;
    c[i].next_free = loop->free_head;
    loop->free_head = base + i;
  }
  loop->nslots += COIO__CB_CHUNK;
  return 0;
}

static int alloc_slot(coio_loop_t *loop, uint32_t *out) {
  coio__cb_t *cb;
  if (loop->free_head == COIO__NO_SLOT) {
    int rc = grow_slots(loop);
    if (rc)
      return rc;
  }
  *out = loop->free_head;
  cb = slot(loop, *out);
  loop->free_head = cb->next_free;
  return 0;
}

static void free_slot(coio_loop_t *loop, uint32_t i) {
  coio__cb_t *cb = slot(loop, i);
  cb->state = COIO__CB_FREE;
  cb->fn = NULL;
  cb->arg = NULL;
  cb->drop = NULL;
  cb->gen++;
  if (cb->gen == 0) /* keep 0 meaning "no handle" */
    cb->gen = 1;
  cb->next_free = loop->free_head;
  loop->free_head = i;
}

static coio_handle_t make_handle(coio__cb_t *cb, uint32_t i) {
  coio_handle_t h;
  h.id = ((uint64_t)cb->gen << 32) | i;
  return h;
}

/* ---- ready ring --------------------------------------------------------- */

static int ready_push(coio_loop_t *loop, uint32_t i) {
  if (loop->ready_len == loop->ready_cap) {
    size_t ncap = loop->ready_cap ? loop->ready_cap * 2 : 256, k;
    uint32_t *n = malloc(ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    for (k = 0; k < loop->ready_len; k++)
      n[k] = loop->ready[(loop->ready_head + k) % loop->ready_cap];
    free(loop->ready);
    loop->ready = n;
    loop->ready_cap = ncap;
    loop->ready_head = 0;
  }
  loop->ready[(loop->ready_head + loop->ready_len) % loop->ready_cap] = i;
  loop->ready_len++;
  return 0;
}

static uint32_t ready_pop(coio_loop_t *loop) {
  uint32_t i = loop->ready[loop->ready_head];
  loop->ready_head = (loop->ready_head + 1) % loop->ready_cap;
  loop->ready_len--;
  return i;
}

/* ---- timer heap --------------------------------------------------------- */

static int timer_less(coio_loop_t *loop, uint32_t a, uint32_t b) {
  coio__cb_t *x = slot(loop, a), *y = slot(loop, b);
  return x->when_ns < y->when_ns || (x->when_ns == y->when_ns && x->seq < y->seq);
}

static void heap_set(coio_loop_t *loop, size_t pos, uint32_t i) {
  loop->heap[pos] = i;
  slot(loop, i)->heap_idx = (uint32_t)pos;
}

static void heap_up(coio_loop_t *loop, size_t pos) {
  uint32_t i = loop->heap[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!timer_less(loop, i, loop->heap[parent]))
      break;
    heap_set(loop, pos, loop->heap[parent]);
    pos = parent;
  }
  heap_set(loop, pos, i);
}

static void heap_down(coio_loop_t *loop, size_t pos) {
  uint32_t i = loop->heap[pos];
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= loop->heap_len)
      break;
    if (child + 1 < loop->heap_len && timer_less(loop, loop->heap[child + 1], loop->heap[child]))
      child++;
    if (!timer_less(loop, loop->heap[child], i))
      break;
    heap_set(loop, pos, loop->heap[child]);
    pos = child;
  }
  heap_set(loop, pos, i);
}

static int heap_push(coio_loop_t *loop, uint32_t i) {
  if (loop->heap_len == loop->heap_cap) {
    size_t ncap = loop->heap_cap ? loop->heap_cap * 2 : 64;
    uint32_t *n = realloc(loop->heap, ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    loop->heap = n;
    loop->heap_cap = ncap;
  }
  loop->heap[loop->heap_len++] = i;
  heap_up(loop, loop->heap_len - 1);
  return 0;
}

static void heap_remove(coio_loop_t *loop, size_t pos) {
  uint32_t last = loop->heap[--loop->heap_len];
  if (pos == loop->heap_len)
    return;
  heap_set(loop, pos, last);
  if (pos > 0 && timer_less(loop, last, loop->heap[(pos - 1) / 2]))
    heap_up(loop, pos);
  else
    heap_down(loop, pos);
}

/* ---- scheduling ----------------------------------------------------------- */

int coio__cb_schedule(coio_loop_t *loop, coio_callback_t fn, void *arg, void (*drop)(void *),
                      coio_handle_t *handle) {
  uint32_t i;
  coio__cb_t *cb;
  int rc = alloc_slot(loop, &i);
  if (rc)
    return rc;
  cb = slot(loop, i);
  if ((rc = ready_push(loop, i)) != 0) {
    free_slot(loop, i);
    return rc;
  }
  cb->fn = fn;
  cb->arg = arg;
  cb->drop = drop;
  cb->state = COIO__CB_READY;
  if (handle)
    *handle = make_handle(cb, i);
  return 0;
}

int coio__cb_schedule_at(coio_loop_t *loop, uint64_t when_ns, coio_callback_t fn, void *arg,
                         void (*drop)(void *), coio_handle_t *handle) {
  uint32_t i;
  coio__cb_t *cb;
  int rc = alloc_slot(loop, &i);
  if (rc)
    return rc;
  cb = slot(loop, i);
  cb->fn = fn;
  cb->arg = arg;
  cb->drop = drop;
  cb->when_ns = when_ns;
  cb->seq = loop->timer_seq++;
  cb->state = COIO__CB_TIMER;
  if ((rc = heap_push(loop, i)) != 0) {
    free_slot(loop, i);
    return rc;
  }
  if (handle)
    *handle = make_handle(cb, i);
  return 0;
}

void coio__timers_expire(coio_loop_t *loop, uint64_t now_ns) {
  while (loop->heap_len > 0) {
    uint32_t i = loop->heap[0];
    coio__cb_t *cb = slot(loop, i);
    if (cb->when_ns > now_ns)
      break;
    heap_remove(loop, 0);
    if (ready_push(loop, i) != 0) {
      /* Out of memory for the ring: put the timer back and retry at the
       * next iteration rather than lose it. */
      heap_push(loop, i);
      return;
    }
    cb->state = COIO__CB_READY;
  }
}

int64_t coio__timers_next(coio_loop_t *loop, uint64_t now_ns) {
  uint64_t when;
  if (loop->heap_len == 0)
    return -1;
  when = slot(loop, loop->heap[0])->when_ns;
  if (when <= now_ns)
    return 0;
  when -= now_ns;
  return when > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)when;
}

void coio__ready_run(coio_loop_t *loop, size_t n) {
  while (n-- > 0 && loop->ready_len > 0) {
    uint32_t i = ready_pop(loop);
    coio__cb_t *cb = slot(loop, i);
    coio_callback_t fn = cb->fn;
    void *arg = cb->arg;
    int cancelled = cb->state == COIO__CB_CANCELLED;
    free_slot(loop, i); /* before running: the callback may schedule again */
    if (cancelled)
      continue;
    if (loop->debug) {
      uint64_t t0 = coio__now_ns(), dt;
      fn(loop, arg);
      dt = coio__now_ns() - t0;
      if (dt >= loop->slow_ns)
        coio__loop_warn(loop, "coio: callback %p(%p) took %.3f seconds", (void *)(uintptr_t)fn, arg,
                        (double)dt / 1e9);
    } else {
      fn(loop, arg);
    }
  }
}

void coio__cb_free_all(coio_loop_t *loop) {
  uint32_t c, k;
  for (c = 0; c < loop->nchunks; c++) {
    for (k = 0; k < COIO__CB_CHUNK; k++) {
      coio__cb_t *cb = &loop->chunks[c][k];
      if (cb->state != COIO__CB_FREE && cb->drop)
        cb->drop(cb->arg);
    }
    free(loop->chunks[c]);
  }
  free(loop->chunks);
  free(loop->ready);
  free(loop->heap);
  loop->chunks = NULL;
  loop->ready = NULL;
  loop->heap = NULL;
  loop->nchunks = loop->nslots = 0;
  loop->free_head = COIO__NO_SLOT;
  loop->ready_cap = loop->ready_head = loop->ready_len = 0;
  loop->heap_len = loop->heap_cap = 0;
}

/* ---- public API ---------------------------------------------------------- */

uint64_t coio__seconds_to_ns(double seconds) {
  double ns = ceil(seconds * 1e9);
  /* About 146 years: beyond any real deadline, far from overflow. */
  if (ns >= 4.6e18)
    return (uint64_t)4600000000000000000ull;
  return ns <= 0 ? 0 : (uint64_t)ns;
}

static int check_loop(coio_loop_t *loop, coio_callback_t cb) {
  if (!loop || !cb)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  return 0;
}

int coio_call_soon(coio_loop_t *loop, coio_callback_t cb, void *user_data, coio_handle_t *handle) {
  int rc = check_loop(loop, cb);
  if (rc)
    return rc;
  return coio__cb_schedule(loop, cb, user_data, NULL, handle);
}

int coio_call_later(coio_loop_t *loop, double delay, coio_callback_t cb, void *user_data,
                    coio_handle_t *handle) {
  int rc = check_loop(loop, cb);
  if (rc)
    return rc;
  if (!(delay >= 0) || isinf(delay)) /* also rejects NaN */
    return COIO_EINVAL;
  /* +1 ns: the double to integer conversion must never make it early. */
  return coio__cb_schedule_at(loop, coio__now_ns() + coio__seconds_to_ns(delay) + 1, cb, user_data,
                              NULL, handle);
}

int coio_call_at(coio_loop_t *loop, double when, coio_callback_t cb, void *user_data,
                 coio_handle_t *handle) {
  int rc = check_loop(loop, cb);
  if (rc)
    return rc;
  if (isnan(when) || isinf(when))
    return COIO_EINVAL;
  return coio__cb_schedule_at(loop, when <= 0 ? 0 : coio__seconds_to_ns(when) + 1, cb, user_data,
                              NULL, handle);
}

int coio__cb_pending(coio_loop_t *loop, coio_handle_t handle) {
  uint32_t i = (uint32_t)(handle.id & 0xffffffffu), gen = (uint32_t)(handle.id >> 32);
  coio__cb_t *cb;
  if (gen == 0 || i >= loop->nslots)
    return 0;
  cb = slot(loop, i);
  return cb->gen == gen && (cb->state == COIO__CB_READY || cb->state == COIO__CB_TIMER);
}

int coio_handle_cancel(coio_loop_t *loop, coio_handle_t handle) {
  uint32_t i = (uint32_t)(handle.id & 0xffffffffu), gen = (uint32_t)(handle.id >> 32);
  coio__cb_t *cb;
  if (!loop)
    return COIO_EINVAL;
  if (gen == 0 || i >= loop->nslots)
    return COIO_ENOENT;
  cb = slot(loop, i);
  if (cb->gen != gen)
    return COIO_ENOENT;
  switch (cb->state) {
  case COIO__CB_READY:
    /* Stays in the ring, skipped when reached (and freed then). */
    cb->state = COIO__CB_CANCELLED;
    if (cb->drop)
      cb->drop(cb->arg);
    cb->drop = NULL;
    return 0;
  case COIO__CB_TIMER:
    heap_remove(loop, cb->heap_idx);
    if (cb->drop)
      cb->drop(cb->arg);
    free_slot(loop, i);
    return 0;
  default:
    return COIO_ENOENT;
  }
}
