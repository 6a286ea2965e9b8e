/* common/coro_fiber.c - coroutines on Windows fibers.
 *
 * The loop thread is converted to a fiber the first time it resumes a
 * coroutine (and stays one). A fiber's stack is the system's: reserved
 * whole, committed a few pages at first and grown by the system's guard
 * page as the coroutine goes deeper; running past the reservation raises
 * STATUS_STACK_OVERFLOW. FIBER_FLAG_FLOAT_SWITCH makes SwitchToFiber keep
 * each fiber's floating-point control state, which the x64 ABI (like SysV)
 * says a call preserves.
 *
 * Fibers are pooled per loop, like POSIX stacks: a fiber's function is a
 * loop that runs one coroutine body after another, so a finished
 * coroutine's fiber (stack already committed, no CreateFiber) serves the
 * next coroutine of the same size. The coio__coro_t is the fiber's record
 * and goes back to the pool with it. A coroutine freed while suspended has
 * live frames on its fiber, which is then deleted (DeleteFiber releases
 * the stack without running anything), never pooled.
 *
 * Each coroutine starts with the floating-point control state of the code
 * that created it (as on POSIX, where the switch inherits it), also on a
 * reused fiber, whose last coroutine may have changed it. */
#include <windows.h>

#include <fenv.h>
#include <stdio.h>
#include <stdlib.h>

#include "coio/error.h"
#include "coro.h"

#define POOL_MAX 64
/* Committed up front: small, the rest is committed on demand. */
#define FIBER_COMMIT (16u * 1024u)
/* Reserved beyond the usable size: the system keeps the last pages of a
 * stack for its guard and for raising the overflow exception, and rounds
 * reservations to 64 KiB anyway. */
#define FIBER_SLACK (64u * 1024u)

enum { CORO_NEW, CORO_RUNNING, CORO_SUSPENDED, CORO_FINISHED };

struct coio__coro {
  void *fiber;
  void *caller; /* the resumer's fiber while this one runs */
  size_t reserve;
  int state;
  coio__coro_fn fn;
  void *arg;
  fenv_t fenv; /* the creator's, to start with */
  coio__stack_pool_t *pool;
};

struct coio__stack_pool {
  coio__coro_t *free[POOL_MAX]; /* finished or never started */
  size_t nfree;
};

const char *coio__coro_backend(void) { return "fiber"; }

int coio__stack_pool_new(coio__stack_pool_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : COIO_ENOMEM;
}

void coio__stack_pool_free(coio__stack_pool_t *pool) {
  size_t i;
  if (!pool)
    return;
  for (i = 0; i < pool->nfree; i++) {
    DeleteFiber(pool->free[i]->fiber);
    free(pool->free[i]);
  }
  free(pool);
}

static VOID CALLBACK fiber_main(LPVOID p) {
  coio__coro_t *co = p;
  for (;;) {
    fesetenv(&co->fenv);
    feclearexcept(FE_ALL_EXCEPT);
    co->fn(co->arg);
    co->state = CORO_FINISHED;
    SwitchToFiber(co->caller);
    /* Resumed again: the pool gave this fiber (and co) to a new coroutine.
     * A fiber function must never return. */
  }
}

static size_t reserve_for(size_t stack_size) {
  if (stack_size == 0)
    stack_size = COIO__DEFAULT_STACK_SIZE;
  if (stack_size < COIO__MIN_STACK_SIZE)
    stack_size = COIO__MIN_STACK_SIZE;
  return (stack_size + FIBER_SLACK + 0xffffu) & ~(size_t)0xffffu;
}

int coio__coro_new(coio__coro_t **out, coio__stack_pool_t *pool, size_t stack_size,
                   coio__coro_fn fn, void *arg) {
  coio__coro_t *co = NULL;
  size_t reserve, i;
  if (stack_size > ((size_t)1 << 30))
    return COIO_ENOMEM;
  reserve = reserve_for(stack_size);
  for (i = pool->nfree; i-- > 0;) {
    if (pool->free[i]->reserve == reserve) {
      co = pool->free[i];
      pool->free[i] = pool->free[--pool->nfree];
      break;
    }
  }
  if (!co) {
    if (!(co = calloc(1, sizeof *co)))
      return COIO_ENOMEM;
    co->fiber = CreateFiberEx(FIBER_COMMIT, reserve, FIBER_FLAG_FLOAT_SWITCH, fiber_main, co);
    if (!co->fiber) {
      free(co);
      return COIO_ENOMEM;
    }
    co->reserve = reserve;
    co->pool = pool;
  }
  co->state = CORO_NEW;
  co->fn = fn;
  co->arg = arg;
  fegetenv(&co->fenv);
  *out = co;
  return 0;
}

/* The fiber running now. gcc 12 flags mingw's inline GetCurrentFiber
 * (a gs-relative read) with a false -Warray-bounds at -O2 and above. */
static void *current_fiber(void) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
  return GetCurrentFiber();
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

void coio__coro_resume(coio__coro_t *co) {
  if (!IsThreadAFiber() && !ConvertThreadToFiberEx(NULL, FIBER_FLAG_FLOAT_SWITCH)) {
    /* Only when out of memory; SwitchToFiber from a thread that is not a
     * fiber would corrupt the thread. */
    fprintf(stderr, "coio: ConvertThreadToFiberEx failed (error %lu)\n", GetLastError());
    abort();
  }
  co->caller = current_fiber();
  co->state = CORO_RUNNING;
  SwitchToFiber(co->fiber);
}

void coio__coro_yield(coio__coro_t *co) {
  co->state = CORO_SUSPENDED;
  SwitchToFiber(co->caller);
}

int coio__coro_finished(const coio__coro_t *co) { return co->state == CORO_FINISHED; }

void coio__coro_free(coio__coro_t *co) {
  coio__stack_pool_t *pool;
  if (!co)
    return;
  pool = co->pool;
  if (co->state != CORO_SUSPENDED && co->state != CORO_RUNNING && pool->nfree < POOL_MAX) {
    co->fn = NULL;
    co->arg = NULL;
    pool->free[pool->nfree++] = co;
    return;
  }
  DeleteFiber(co->fiber);
  free(co);
}
