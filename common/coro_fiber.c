/* common/coro_fiber.c - coroutines on Windows fibers. The loop thread is
 * converted to a fiber the first time it resumes a coroutine. Fiber stacks
 * are the system's (reserved with a guard page, committed as they grow). */
#include <windows.h>

#include <stdlib.h>

#include "coio/error.h"
#include "coro.h"

struct coio__coro {
  void *fiber;
  void *caller;
  coio__coro_fn fn;
  void *arg;
  int finished;
};

struct coio__stack_pool {
  int unused;
};

int coio__stack_pool_new(coio__stack_pool_t **out) {
  *out = calloc(1, sizeof **out);
  return *out ? 0 : COIO_ENOMEM;
}

void coio__stack_pool_free(coio__stack_pool_t *pool) { free(pool); }

static VOID CALLBACK fiber_main(LPVOID p) {
  coio__coro_t *co = p;
  co->fn(co->arg);
  co->finished = 1;
  SwitchToFiber(co->caller); /* a fiber function must never return */
}

int coio__coro_new(coio__coro_t **out, coio__stack_pool_t *pool, size_t stack_size,
                   coio__coro_fn fn, void *arg) {
  coio__coro_t *co = calloc(1, sizeof *co);
  (void)pool;
  if (!co)
    return COIO_ENOMEM;
  if (stack_size < COIO__MIN_STACK_SIZE)
    stack_size = stack_size ? COIO__MIN_STACK_SIZE : COIO__DEFAULT_STACK_SIZE;
  co->fn = fn;
  co->arg = arg;
  co->fiber = CreateFiberEx(0, stack_size, FIBER_FLAG_FLOAT_SWITCH, fiber_main, co);
  if (!co->fiber) {
    free(co);
    return COIO_ENOMEM;
  }
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
  if (!IsThreadAFiber())
    ConvertThreadToFiberEx(NULL, FIBER_FLAG_FLOAT_SWITCH);
  co->caller = current_fiber();
  SwitchToFiber(co->fiber);
}

void coio__coro_yield(coio__coro_t *co) { SwitchToFiber(co->caller); }

int coio__coro_finished(const coio__coro_t *co) { return co->finished; }

void coio__coro_free(coio__coro_t *co) {
  if (!co)
    return;
  DeleteFiber(co->fiber);
  free(co);
}
