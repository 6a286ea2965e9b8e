/* common/wbuf.c - the transports' write buffer: a queue of blocks that
 * never move once written (a proactor may have the kernel reading from
 * them). Two sizes: a write that fits in a small block (1 KiB with its
 * header) into an empty buffer gets one, freed as soon as it is sent (malloc's
 * per-thread cache makes that cheap), so an idle connection that only ever
 * wrote small messages holds no buffer at all; bulk writes use 16 KiB
 * blocks, recycled through a small spare list so a warm connection does not
 * allocate per write. (Measured before: the 16 KiB block kept by every
 * connection after its first write was 4 KiB of RSS per idle connection,
 * the page it touched.) */
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "transport_internal.h"

#define MAX_SPARE 4
#define SMALL_BLOCK 1024 /* bytes, header included: within glibc's tcache sizes */
#define SMALL_CAP (SMALL_BLOCK - offsetof(coio__wblock_t, data))

static coio__wblock_t *block_get(coio__wbuf_t *wb, size_t need) {
  coio__wblock_t *b;
  size_t cap = need <= SMALL_CAP ? SMALL_CAP : need > COIO__WBLOCK_SIZE ? need : COIO__WBLOCK_SIZE;
  if (cap == COIO__WBLOCK_SIZE && wb->spare) {
    b = wb->spare;
    wb->spare = b->next;
  } else {
    b = malloc(offsetof(coio__wblock_t, data) + cap);
    if (!b)
      return NULL;
    b->cap = cap;
  }
  b->next = NULL;
  b->start = b->end = 0;
  b->addr.len = 0;
  return b;
}

static void block_put(coio__wbuf_t *wb, coio__wblock_t *b) {
  size_t n = 0;
  coio__wblock_t *s;
  for (s = wb->spare; s; s = s->next)
    n++;
  if (b->cap == COIO__WBLOCK_SIZE && n < MAX_SPARE) {
    b->next = wb->spare;
    wb->spare = b;
  } else {
    free(b);
  }
}

static void push(coio__wbuf_t *wb, coio__wblock_t *b) {
  if (wb->tail)
    wb->tail->next = b;
  else
    wb->head = b;
  wb->tail = b;
  wb->nblocks++;
}

int coio__wbuf_append(coio__wbuf_t *wb, const void *data, size_t len) {
  const unsigned char *p = data;
  while (len > 0) {
    coio__wblock_t *b = wb->tail;
    size_t room, n;
    if (!b || b->end == b->cap) {
      /* Small only into an empty buffer: a queue that grows is bulk. */
      if (!(b = block_get(wb, !b && len <= SMALL_CAP ? len : COIO__WBLOCK_SIZE)))
        return COIO_ENOMEM; /* what was appended so far stays queued */
      push(wb, b);
    }
    room = b->cap - b->end;
    n = len < room ? len : room;
    memcpy(b->data + b->end, p, n);
    b->end += n;
    wb->size += n;
    p += n;
    len -= n;
  }
  return 0;
}

int coio__wbuf_append_datagram(coio__wbuf_t *wb, const void *data, size_t len,
                               const coio_sockaddr_t *addr) {
  coio__wblock_t *b = block_get(wb, len ? len : 1);
  if (!b)
    return COIO_ENOMEM;
  memcpy(b->data, data, len);
  b->end = len;
  if (addr)
    b->addr = *addr;
  push(wb, b);
  wb->size += len;
  return 0;
}

size_t coio__wbuf_iov(const coio__wbuf_t *wb, coio_buf_t *iov, size_t max) {
  size_t n = 0;
  const coio__wblock_t *b;
  for (b = wb->head; b && n < max; b = b->next) {
    if (b->end == b->start)
      continue;
    iov[n].base = b->data + b->start;
    iov[n].len = b->end - b->start;
    n++;
  }
  return n;
}

void coio__wbuf_consume(coio__wbuf_t *wb, size_t n) {
  while (n > 0 && wb->head) {
    coio__wblock_t *b = wb->head;
    size_t avail = b->end - b->start, k = n < avail ? n : avail;
    b->start += k;
    wb->size -= k;
    n -= k;
    if (b->start == b->end && (b->next || b->end == b->cap)) {
      wb->head = b->next;
      if (!wb->head)
        wb->tail = NULL;
      wb->nblocks--;
      block_put(wb, b);
    }
  }
  if (wb->head && wb->head->start == wb->head->end && !wb->head->next) {
    if (wb->head->cap < COIO__WBLOCK_SIZE) { /* small: freed, the buffer is empty */
      coio__wblock_t *b = wb->head;
      wb->head = wb->tail = NULL;
      wb->nblocks--;
      block_put(wb, b);
    } else {
      wb->head->start = wb->head->end = 0; /* reuse the last block from its start */
    }
  }
}

void coio__wbuf_drop_datagram(coio__wbuf_t *wb) {
  coio__wblock_t *b = wb->head;
  if (!b)
    return;
  wb->head = b->next;
  if (!wb->head)
    wb->tail = NULL;
  wb->nblocks--;
  wb->size -= b->end - b->start;
  block_put(wb, b);
}

void coio__wbuf_free(coio__wbuf_t *wb) {
  coio__wblock_t *b, *n;
  for (b = wb->head; b; b = n) {
    n = b->next;
    free(b);
  }
  for (b = wb->spare; b; b = n) {
    n = b->next;
    free(b);
  }
  memset(wb, 0, sizeof *wb);
}
