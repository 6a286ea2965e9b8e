/* common/coro.h - stackful coroutines: the seam between tasks (task.c) and
 * the stack switch, which has one implementation per architecture or OS:
 *   coro_ucontext.c   portable POSIX fallback (swapcontext)
 *   coro_fiber.c      Windows fibers
 * Coroutines are asymmetric: the loop thread resumes one; it runs until it
 * yields (back to the resume point) or its function returns. Only the loop
 * thread that created a coroutine may resume it. */
#ifndef COIO_COMMON_CORO_H
#define COIO_COMMON_CORO_H

#include <stddef.h>

typedef struct coio__coro coio__coro_t;
typedef void (*coio__coro_fn)(void *arg);

/* Default usable stack size when neither the task nor the loop sets one. */
#define COIO__DEFAULT_STACK_SIZE (256u * 1024u)
/* Smallest stack size accepted (smaller requests are rounded up). */
#define COIO__MIN_STACK_SIZE (16u * 1024u)

/* Stacks are pooled per loop: a finished coroutine's stack is reused by the
 * next coroutine of the same size. */
typedef struct coio__stack_pool coio__stack_pool_t;
int coio__stack_pool_new(coio__stack_pool_t **out);
void coio__stack_pool_free(coio__stack_pool_t *pool); /* every coroutine freed first */

/* A coroutine that runs fn(arg) on its own stack of at least stack_size
 * usable bytes the first time it is resumed. 0 or COIO_ENOMEM (also when
 * the process is out of memory mappings). */
int coio__coro_new(coio__coro_t **out, coio__stack_pool_t *pool, size_t stack_size,
                   coio__coro_fn fn, void *arg);
/* Switches into co until it yields or fn returns. Not from inside a coroutine. */
void coio__coro_resume(coio__coro_t *co);
/* From inside co: switches back to where co was resumed. */
void coio__coro_yield(coio__coro_t *co);
/* 1 once fn has returned. */
int coio__coro_finished(const coio__coro_t *co);
/* Frees a coroutine that has finished or never ran (its stack goes back to
 * the pool). A suspended coroutine must not be freed: tasks always run to
 * their end. */
void coio__coro_free(coio__coro_t *co);

#endif
