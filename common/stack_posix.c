/* common/stack_posix.c - coroutine stacks on POSIX: mmap'ed, pooled per loop.
 * (A first version: no guard page yet.) */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "coio/error.h"
#include "stack.h"

#define POOL_MAX 64

struct coio__stack_pool {
  coio__stack_t free[POOL_MAX];
  size_t nfree;
};

int coio__stack_pool_new(coio__stack_pool_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : COIO_ENOMEM;
}

void coio__stack_pool_free(coio__stack_pool_t *pool) {
  size_t i;
  if (!pool)
    return;
  for (i = 0; i < pool->nfree; i++)
    munmap(pool->free[i].alloc, pool->free[i].alloc_size);
  free(pool);
}

static size_t round_size(size_t size) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  if (size < COIO__MIN_STACK_SIZE)
    size = COIO__MIN_STACK_SIZE;
  return (size + page - 1) / page * page;
}

int coio__stack_get(coio__stack_pool_t *pool, size_t size, coio__stack_t *out) {
  size_t i;
  void *p;
  size = round_size(size ? size : COIO__DEFAULT_STACK_SIZE);
  for (i = pool->nfree; i-- > 0;) {
    if (pool->free[i].size == size) {
      *out = pool->free[i];
      pool->free[i] = pool->free[--pool->nfree];
      return 0;
    }
  }
  p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return COIO_ENOMEM;
  out->base = p;
  out->size = size;
  out->alloc = p;
  out->alloc_size = size;
  return 0;
}

void coio__stack_put(coio__stack_pool_t *pool, coio__stack_t *stack) {
  if (pool->nfree < POOL_MAX)
    pool->free[pool->nfree++] = *stack;
  else
    munmap(stack->alloc, stack->alloc_size);
}
