/* common/stack.h - coroutine stacks and their per-loop pool (stack_posix.c;
 * Windows fibers allocate their own). */
#ifndef COIO_COMMON_STACK_H
#define COIO_COMMON_STACK_H

#include <stddef.h>

#include "coro.h"

typedef struct coio__stack {
  void *base;  /* lowest usable address (the guard region is below it) */
  size_t size; /* usable bytes above base; base + size is page aligned */
  void *alloc; /* what to release: the guard and the stack */
  size_t alloc_size;
} coio__stack_t;

/* A stack of at least size usable bytes (0: the default; rounded up to the
 * minimum and to whole pages), from the pool when one fits, with a guard
 * region below it. 0 or COIO_ENOMEM (out of memory or of mappings). */
int coio__stack_get(coio__stack_pool_t *pool, size_t size, coio__stack_t *out);
/* Gives a stack back to the pool (or releases it). Its contents need not
 * be meaningful: a suspended coroutine's stack may be given back. */
void coio__stack_put(coio__stack_pool_t *pool, coio__stack_t *stack);

#endif
