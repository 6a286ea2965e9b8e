/* common/coro_sanitizer.h - telling AddressSanitizer and ThreadSanitizer
 * about stack switches (POSIX coroutines: coro_asm.c, coro_ucontext.c).
 *
 * Both sanitizers keep per-thread state about "the stack we are on". A
 * switch they are not told about makes ASan report false stack-buffer
 * overflows (or miss real ones) and use the wrong fake stack for
 * stack-use-after-return, and makes TSan attribute the coroutine's memory
 * accesses to the wrong shadow stack. The protocol, for a switch from A to B:
 *   ASan: A calls __sanitizer_start_switch_fiber(&A's fake stack, B's stack
 *         bounds) just before switching, and B calls
 *         __sanitizer_finish_switch_fiber(B's saved fake stack, &A's bounds)
 *         just after arriving. A coroutine that ends passes NULL instead of
 *         &its fake stack, which frees it.
 *   TSan: A calls __tsan_switch_to_fiber(B's fiber, 0) just before
 *         switching (flag 0: the switch synchronises, so TSan sees the
 *         coroutines of one thread as ordered, as they are).
 * The functions here are no-ops in builds without the sanitizers. They are
 * always inlined, also at -O0: TSan instruments every function's entry and
 * exit on the current fiber's shadow call stack, so a helper that returned
 * after __tsan_switch_to_fiber would pop a frame off the other fiber's
 * (empty) shadow stack and corrupt TSan's state.
 *
 * Each coroutine has one coio__coro_san_t; "caller" is whoever resumed it. */
#ifndef COIO_COMMON_CORO_SANITIZER_H
#define COIO_COMMON_CORO_SANITIZER_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COIO__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define COIO__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(COIO__ASAN)
#define COIO__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(COIO__TSAN)
#define COIO__TSAN 1
#endif

#ifdef COIO__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef COIO__TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define COIO__SAN_INLINE static inline __attribute__((always_inline))
#else
#define COIO__SAN_INLINE static inline
#endif

typedef struct coio__coro_san {
#ifdef COIO__ASAN
  void *fake;                /* the coroutine's fake stack while it is suspended */
  void *caller_fake;         /* the caller's while the coroutine runs */
  const void *caller_bottom; /* the caller's stack, to switch back to */
  size_t caller_size;
#endif
#ifdef COIO__TSAN
  void *fiber;        /* the coroutine's */
  void *caller_fiber; /* the caller's */
#endif
  int unused; /* keeps the struct non-empty without sanitizers */
} coio__coro_san_t;

/* When a coroutine is made: 0, or -1 if the sanitizer is out of memory. */
COIO__SAN_INLINE int coio__san_init(coio__coro_san_t *s) {
#ifdef COIO__TSAN
  s->fiber = __tsan_create_fiber(0);
  if (!s->fiber)
    return -1;
#endif
  (void)s;
  return 0;
}

/* When it is freed (it is not running). */
COIO__SAN_INLINE void coio__san_destroy(coio__coro_san_t *s) {
#ifdef COIO__TSAN
  __tsan_destroy_fiber(s->fiber);
#endif
  (void)s;
}

/* The caller, just before switching into the coroutine's stack. */
COIO__SAN_INLINE void coio__san_resume_begin(coio__coro_san_t *s, const void *bottom, size_t size) {
#ifdef COIO__ASAN
  __sanitizer_start_switch_fiber(&s->caller_fake, bottom, size);
#endif
#ifdef COIO__TSAN
  s->caller_fiber = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(s->fiber, 0);
#endif
  (void)s, (void)bottom, (void)size;
}

/* The caller, back on its own stack. */
COIO__SAN_INLINE void coio__san_resume_end(coio__coro_san_t *s) {
#ifdef COIO__ASAN
  __sanitizer_finish_switch_fiber(s->caller_fake, NULL, NULL);
#endif
  (void)s;
}

/* The coroutine, just after arriving on its stack (first entry: its fake
 * stack is NULL, ASan makes one when needed). Records the caller's stack. */
COIO__SAN_INLINE void coio__san_arrive(coio__coro_san_t *s) {
#ifdef COIO__ASAN
  __sanitizer_finish_switch_fiber(s->fake, &s->caller_bottom, &s->caller_size);
#endif
  (void)s;
}

/* The coroutine, just before switching back to the caller; last: it will
 * never run again (its fake stack is freed). */
COIO__SAN_INLINE void coio__san_leave(coio__coro_san_t *s, int last) {
#ifdef COIO__ASAN
  __sanitizer_start_switch_fiber(last ? NULL : &s->fake, s->caller_bottom, s->caller_size);
#endif
#ifdef COIO__TSAN
  __tsan_switch_to_fiber(s->caller_fiber, 0);
#endif
  (void)s, (void)last;
}

/* A stack handed to a new coroutine may carry poisoned ASan shadow from
 * frames that never returned (a coroutine freed while suspended, or the
 * last frames of a finished one): clear it, as ASan's own swapcontext
 * interceptor does. */
COIO__SAN_INLINE void coio__san_fresh_stack(void *base, size_t size) {
#ifdef COIO__ASAN
  __asan_unpoison_memory_region(base, size);
#endif
  (void)base, (void)size;
}

#endif
