/* common/coro.h - stackful coroutines: the seam between tasks (task.c) and
 * the stack switch, which has one implementation per architecture or OS:
 *   coro_asm.c + coro_switch_<arch>.S   Linux x86-64 and AArch64 (default)
 *   coro_ucontext.c                     portable POSIX fallback (swapcontext)
 *   coro_fiber.c                        Windows fibers
 * CMake picks one (option COIO_CORO: auto, asm, ucontext). The POSIX ones
 * take their stacks from stack_posix.c (guard page, pooled per loop);
 * fibers have the system's stacks, pooled as whole fibers.
 *
 * Coroutines are asymmetric: the loop thread resumes one; it runs until it
 * yields (back to the resume point) or its function returns. Only the
 * thread running the loop that created a coroutine may resume it, and a
 * coroutine's stack pool belongs to that loop (not thread safe).
 *
 * Every switch preserves the callee-saved registers of the platform ABI,
 * including the floating-point control state (rounding mode, exception
 * masks): each coroutine has its own, inherited from its creator when it
 * is made. Every switch is announced to AddressSanitizer and
 * ThreadSanitizer when the build uses them (coro_sanitizer.h). */
#ifndef COIO_COMMON_CORO_H
#define COIO_COMMON_CORO_H

#include <stddef.h>

typedef struct coio__coro coio__coro_t;
typedef void (*coio__coro_fn)(void *arg);

/* Default usable stack size when neither the task nor the loop sets one. */
#define COIO__DEFAULT_STACK_SIZE (256u * 1024u)
/* Smallest stack size accepted (smaller requests are rounded up). */
#define COIO__MIN_STACK_SIZE (16u * 1024u)

/* Stacks are pooled per loop: a finished coroutine's stack (on Windows its
 * whole fiber) is reused by the next coroutine of the same size. */
typedef struct coio__stack_pool coio__stack_pool_t;
int coio__stack_pool_new(coio__stack_pool_t **out);
void coio__stack_pool_free(coio__stack_pool_t *pool); /* every coroutine freed first */

/* A coroutine that runs fn(arg) on its own stack of at least stack_size
 * usable bytes (0: COIO__DEFAULT_STACK_SIZE; rounded up to whole pages and
 * to at least COIO__MIN_STACK_SIZE) the first time it is resumed. Overflowing
 * the stack crashes at a guard region below it (SIGSEGV; on Windows
 * STATUS_STACK_OVERFLOW) instead of corrupting memory. 0 or COIO_ENOMEM
 * (also when the process is out of memory mappings: see
 * ../shared/PITFALLS.md section 6). */
int coio__coro_new(coio__coro_t **out, coio__stack_pool_t *pool, size_t stack_size,
                   coio__coro_fn fn, void *arg);
/* Switches into co until it yields or fn returns. Not from inside a
 * coroutine, and not once co has finished. */
void coio__coro_resume(coio__coro_t *co);
/* From inside co: switches back to where co was resumed. */
void coio__coro_yield(coio__coro_t *co);
/* 1 once fn has returned. */
int coio__coro_finished(const coio__coro_t *co);
/* Frees a coroutine in any state but running: finished, never started, or
 * suspended in coio__coro_yield (a loop closed with tasks pending:
 * coio__tasks_close). A suspended coroutine is not unwound: none of its
 * code runs again and whatever its frames own is lost, so the caller must
 * not need it. Its stack goes back to the pool. */
void coio__coro_free(coio__coro_t *co);

/* The implementation compiled in: "asm-x86_64", "asm-aarch64", "ucontext"
 * or "fiber" (for diagnostics and benchmarks). */
const char *coio__coro_backend(void);

#endif
