/* common/coro_ucontext.c - coroutines on POSIX ucontext: the portable
 * fallback for targets without a hand-written switch (or with
 * -DCOIO_CORO=ucontext). swapcontext saves and restores the whole register
 * file, the floating-point environment and the signal mask (a system call
 * per switch), so it is correct everywhere but several times slower than
 * coro_asm.c. Under AddressSanitizer it also prints a one-time "doesn't
 * fully support makecontext/swapcontext" warning; the fiber annotations
 * below keep its reports right all the same. Stacks come from
 * stack_posix.c (guard region, pooled per loop). The states and the
 * sanitizer protocol are those of coro_asm.c. */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "coio/error.h"
#include "coro.h"
#include "coro_sanitizer.h"
#include "stack.h"

enum { CORO_NEW, CORO_RUNNING, CORO_SUSPENDED, CORO_FINISHED };

struct coio__coro {
  ucontext_t ctx;    /* the coroutine's */
  ucontext_t caller; /* where coio__coro_resume was called */
  int state;
  int killed; /* ASan only: resumed just to end (coio__coro_free) */
  coio__coro_fn fn;
  void *arg;
  coio__stack_t stack;
  coio__stack_pool_t *pool;
  coio__coro_san_t san;
};

const char *coio__coro_backend(void) { return "ucontext"; }

static void coro_exit(coio__coro_t *co) {
  co->state = CORO_FINISHED;
  coio__san_leave(&co->san, 1);
  setcontext(&co->caller);
  abort(); /* not reached */
}

/* makecontext passes int arguments only: the pointer travels in two. */
static void trampoline(unsigned lo, unsigned hi) {
  coio__coro_t *co = (coio__coro_t *)(((uintptr_t)hi << 16 << 16) | (uintptr_t)lo);
  coio__san_arrive(&co->san);
  co->fn(co->arg);
  coro_exit(co);
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
  if (coio__san_init(&co->san) != 0) {
    coio__stack_put(pool, &co->stack);
    free(co);
    return COIO_ENOMEM;
  }
  co->pool = pool;
  co->fn = fn;
  co->arg = arg;
  co->state = CORO_NEW;
  /* getcontext captures the creator's floating-point environment, which
   * the coroutine starts with (as with coro_asm.c). */
  getcontext(&co->ctx);
  co->ctx.uc_stack.ss_sp = co->stack.base;
  co->ctx.uc_stack.ss_size = co->stack.size;
  co->ctx.uc_link = NULL; /* the trampoline never returns */
  makecontext(&co->ctx, (void (*)(void))trampoline, 2, (unsigned)(p & 0xffffffffu),
              (unsigned)(p >> 16 >> 16));
  *out = co;
  return 0;
}

void coio__coro_resume(coio__coro_t *co) {
  co->state = CORO_RUNNING;
  coio__san_resume_begin(&co->san, co->stack.base, co->stack.size);
  swapcontext(&co->caller, &co->ctx);
  coio__san_resume_end(&co->san);
}

void coio__coro_yield(coio__coro_t *co) {
  co->state = CORO_SUSPENDED;
  coio__san_leave(&co->san, 0);
  swapcontext(&co->ctx, &co->caller);
  coio__san_arrive(&co->san);
  if (co->killed)
    coro_exit(co);
}

int coio__coro_finished(const coio__coro_t *co) { return co->state == CORO_FINISHED; }

void coio__coro_free(coio__coro_t *co) {
  if (!co)
    return;
#ifdef COIO__ASAN
  /* As in coro_asm.c: let a suspended coroutine free its ASan fake stack. */
  if (co->state == CORO_SUSPENDED) {
    co->killed = 1;
    coio__coro_resume(co);
  }
#endif
  coio__san_destroy(&co->san);
  coio__stack_put(co->pool, &co->stack);
  free(co);
}
