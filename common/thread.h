/* common/thread.h - what the thread pool needs beyond sys.h: threads,
 * condition variables (paired with coio__mutex_t), two more atomic
 * operations and the processor count. One implementation file per OS:
 * thread_posix.c (pthreads) and thread_win.c (CreateThread,
 * CONDITION_VARIABLE over the SRWLOCK of sys.h). MSVC-compatible. */
#ifndef COIO_COMMON_THREAD_H
#define COIO_COMMON_THREAD_H

#include <stddef.h>
#include <stdint.h>

#include "sys.h"

#ifdef _WIN32
typedef CONDITION_VARIABLE coio__cond_t;
#else
typedef pthread_cond_t coio__cond_t;
#endif

/* A started thread; joined (and freed) exactly once. */
typedef struct coio__thread coio__thread_t;

/* Starts fn(arg) on a new thread. On POSIX the thread starts with every
 * asynchronous signal blocked, so signals are delivered to the loop's
 * threads, never to a pool thread (signalfd needs that; see PITFALLS.md
 * section 4). 0, COIO_ENOMEM, or the mapped system error. */
int coio__thread_start(coio__thread_t **out, void (*fn)(void *), void *arg);
/* Waits for the thread to return and frees it. Not from the thread itself. */
void coio__thread_join(coio__thread_t *t);

void coio__cond_init(coio__cond_t *c);
void coio__cond_destroy(coio__cond_t *c);
void coio__cond_signal(coio__cond_t *c);
void coio__cond_broadcast(coio__cond_t *c);
/* Waits with m held (released while waiting, held again on return). May
 * wake spuriously: callers re-check their condition. */
void coio__cond_wait(coio__cond_t *c, coio__mutex_t *m);
/* As coio__cond_wait, until deadline_ns on the coio__now_ns clock: 0 when
 * woken (perhaps spuriously), COIO_ETIMEDOUT once the deadline passed. */
int coio__cond_wait_until(coio__cond_t *c, coio__mutex_t *m, uint64_t deadline_ns);

/* Adds delta and returns the new value (sequentially consistent). */
int coio__atomic_add(coio__atomic_int *a, int delta);
/* Sets *a to desired if it holds expected; 1 if it did, else 0. */
int coio__atomic_cas(coio__atomic_int *a, int expected, int desired);

/* Processors available to this process (at least 1). */
unsigned coio__cpu_count(void);

#endif
