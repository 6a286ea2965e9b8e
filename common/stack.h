/* common/stack.h - coroutine stacks and their per-loop pool (stack_posix.c;
 * Windows fibers allocate their own). */
#ifndef COIO_COMMON_STACK_H
#define COIO_COMMON_STACK_H

#include <stddef.h>

#include "coro.h"

typedef struct coio__stack {
  void *base;  /* lowest usable address */
  size_t size; /* usable bytes above base */
  void *alloc; /* what to release */
  size_t alloc_size;
} coio__stack_t;

/* A stack of at least size usable bytes, from the pool when one fits. */
int coio__stack_get(coio__stack_pool_t *pool, size_t size, coio__stack_t *out);
/* Gives a stack back to the pool (or releases it). */
void coio__stack_put(coio__stack_pool_t *pool, coio__stack_t *stack);

#endif
