/* common/coro_asm.c - coroutines on the hand-written stack switch
 * (coro_switch_x86_64.S, coro_switch_aarch64.S), the default on Linux.
 *
 * Why not swapcontext: it saves and restores the signal mask, a system
 * call per switch, and every general and floating-point register where the
 * ABI needs only the callee-saved ones; and AddressSanitizer warns that it
 * does not fully support it. The switch here is a function call that
 * pushes the callee-saved registers and the floating-point control state,
 * swaps stack pointers and pops the other side's (the invariant is written
 * at the top of each .S file).
 *
 * A coroutine's life:
 *   NEW        coio__coro_new has laid an initial frame on its stack
 *              (coio__coro_init) that enters coro_main.
 *   RUNNING    between coio__coro_resume's switch in and the switch out.
 *   SUSPENDED  switched out in coio__coro_yield; sp is its saved frame.
 *   FINISHED   fn returned; coro_main switched out for the last time. Its
 *              stack is not needed any more.
 * The resumer's own stack pointer is kept in caller_sp while the coroutine
 * runs. Stacks come from stack_posix.c (guard region, pooled per loop). */
#include <stdint.h>
#include <stdlib.h>

#include "coio/error.h"
#include "coro.h"
#include "coro_sanitizer.h"
#include "stack.h"

#if !((defined(__x86_64__) || defined(__aarch64__)) && defined(__ELF__) && !defined(__ILP32__))
#error "coro_asm.c: no stack switch for this target; configure with -DCOIO_CORO=ucontext"
#endif

/* The .S file's functions (hidden symbols of the library). */
void coio__coro_switch(void **save, void *to);
void *coio__coro_init(void *top, void (*fn)(void *), void *arg);

enum { CORO_NEW, CORO_RUNNING, CORO_SUSPENDED, CORO_FINISHED };

struct coio__coro {
  void *sp;        /* the coroutine's saved frame while it is not running */
  void *caller_sp; /* the resumer's while it is running */
  int state;
  int killed; /* ASan only: resumed just to end (coio__coro_free) */
  coio__coro_fn fn;
  void *arg;
  coio__stack_t stack;
  coio__stack_pool_t *pool;
  coio__coro_san_t san;
};

const char *coio__coro_backend(void) {
#if defined(__x86_64__)
  return "asm-x86_64";
#else
  return "asm-aarch64";
#endif
}

/* The last switch out: never comes back. */
static void coro_exit(coio__coro_t *co) {
  co->state = CORO_FINISHED;
  coio__san_leave(&co->san, 1);
  coio__coro_switch(&co->sp, co->caller_sp);
  abort(); /* not reached: nobody resumes a finished coroutine */
}

/* Runs on the coroutine's stack, entered from coio__coro_start. */
static void coro_main(void *p) {
  coio__coro_t *co = p;
  coio__san_arrive(&co->san);
  co->fn(co->arg);
  coro_exit(co);
}

int coio__coro_new(coio__coro_t **out, coio__stack_pool_t *pool, size_t stack_size,
                   coio__coro_fn fn, void *arg) {
  coio__coro_t *co = calloc(1, sizeof *co);
  int rc;
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
  /* base + size is page aligned, so 16-byte aligned as both ABIs want. */
  co->sp = coio__coro_init((char *)co->stack.base + co->stack.size, coro_main, co);
  *out = co;
  return 0;
}

void coio__coro_resume(coio__coro_t *co) {
  co->state = CORO_RUNNING;
  coio__san_resume_begin(&co->san, co->stack.base, co->stack.size);
  coio__coro_switch(&co->caller_sp, co->sp);
  coio__san_resume_end(&co->san);
}

void coio__coro_yield(coio__coro_t *co) {
  co->state = CORO_SUSPENDED;
  coio__san_leave(&co->san, 0);
  coio__coro_switch(&co->sp, co->caller_sp);
  coio__san_arrive(&co->san);
  if (co->killed)
    coro_exit(co);
}

int coio__coro_finished(const coio__coro_t *co) { return co->state == CORO_FINISHED; }

void coio__coro_free(coio__coro_t *co) {
  if (!co)
    return;
#ifdef COIO__ASAN
  /* A suspended coroutine's ASan fake stack (for stack-use-after-return)
   * is freed only by the coroutine itself, as it leaves for good: resume
   * it once to let it do that. It returns from its switch in
   * coio__coro_yield, sees `killed` and leaves at once; none of the task's
   * code runs. Without ASan a suspended coroutine is simply dropped. */
  if (co->state == CORO_SUSPENDED) {
    co->killed = 1;
    coio__coro_resume(co);
  }
#endif
  coio__san_destroy(&co->san);
  coio__stack_put(co->pool, &co->stack);
  free(co);
}
