/* common/coro_ucontext.c - coroutines on POSIX ucontext (the portable
 * fallback; swapcontext also saves the signal mask, a system call per
 * switch). Stacks come from the pool in stack_posix.c. */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "coio/error.h"
#include "coro.h"
#include "stack.h"

struct coio__coro {
  ucontext_t ctx;    /* the coroutine's */
  ucontext_t caller; /* where coio__coro_resume was called */
  coio__stack_t stack;
  coio__stack_pool_t *pool;
  coio__coro_fn fn;
  void *arg;
  int finished;
};

/* makecontext passes int arguments only: the pointer travels in two. */
static void trampoline(unsigned lo, unsigned hi) {
  coio__coro_t *co = (coio__coro_t *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
  co->fn(co->arg);
  co->finished = 1;
  /* returning switches to uc_link (co->caller) */
}

int coio__coro_new(coio__coro_t **out, coio__stack_pool_t *pool, size_t stack_size,
                   coio__coro_fn fn, void *arg) {
  coio__coro_t *co = calloc(1, sizeof *co);
  int rc;
  uintptr_t p = (uintptr_t)co;
  if (!co)
    return COIO_ENOMEM;
  if ((rc = coio__stack_get(pool, stack_size, &co->stack)) != 0) {
    free(co);
    return rc;
  }
  co->pool = pool;
  co->fn = fn;
  co->arg = arg;
  getcontext(&co->ctx);
  co->ctx.uc_stack.ss_sp = co->stack.base;
  co->ctx.uc_stack.ss_size = co->stack.size;
  co->ctx.uc_link = &co->caller;
  makecontext(&co->ctx, (void (*)(void))trampoline, 2, (unsigned)(p & 0xffffffffu),
              (unsigned)(p >> 16 >> 16));
  *out = co;
  return 0;
}

void coio__coro_resume(coio__coro_t *co) { swapcontext(&co->caller, &co->ctx); }

void coio__coro_yield(coio__coro_t *co) { swapcontext(&co->ctx, &co->caller); }

int coio__coro_finished(const coio__coro_t *co) { return co->finished; }

void coio__coro_free(coio__coro_t *co) {
  if (!co)
    return;
  coio__stack_put(co->pool, &co->stack);
  free(co);
}
