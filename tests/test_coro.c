/* tests/test_coro.c - the coroutine layer under tasks (common/coro*.c,
 * common/stack_posix.c), through the public task API:
 *   - deep recursion (3/4 of the stack) with switches at every depth, frames
 *     intact after;
 *   - locals kept in callee-saved registers across switches, and each task's
 *     own floating-point rounding mode;
 *   - 10,000 concurrent tasks, and what their guard regions cost in mappings;
 *   - stack sizes per task and per loop honoured, and a stack overflow
 *     crashing at the guard (in a child process);
 *   - stacks reused from the pool (bounded mappings), tasks freed while
 *     suspended (a loop closed with tasks pending);
 *   - running out of mappings gives COIO_ENOMEM, not a crash (Linux).
 * Runs once per backend. Tasks record what they see; the test asserts after
 * the loop ran (a failed assertion must not longjmp off a task's stack). */
#ifndef _WIN32
#define _GNU_SOURCE
#endif
#include <fenv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#endif
#ifdef __linux__
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TEST_ASAN)
#define TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(TEST_TSAN)
#define TEST_TSAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(_MSC_VER)
#include <intrin.h>
#define NOINLINE __declspec(noinline)
#define FRAME_ADDRESS() ((uintptr_t)_AddressOfReturnAddress())
#else
#define NOINLINE __attribute__((noinline))
#define FRAME_ADDRESS() ((uintptr_t)__builtin_frame_address(0))
#endif

#define KiB ((size_t)1024)
#define DEFAULT_STACK (256 * KiB) /* coio_task_options_t: the loop's default */

/* Runs the loop until fut is done, bounded by a watchdog. */
static int run_until(coio_loop_t *loop, coio_future_t *fut, double seconds) {
  coio_handle_t h;
  int rc;
  assert_int_equal(coio_call_later(loop, seconds, test_stop_cb, NULL, &h), 0);
  rc = coio_loop_run_until_complete(loop, fut);
  coio_handle_cancel(loop, h);
  assert_true(coio_future_done(fut)); /* else the watchdog stopped it */
  return rc;
}

static coio_loop_t *loop_with_stack(size_t task_stack_size) {
  coio_loop_t *loop = NULL;
  coio_loop_options_t o;
  memset(&o, 0, sizeof o);
  o.backend = coio_test_backend;
  o.task_stack_size = task_stack_size;
  if (coio_loop_new(&loop, &o) != 0)
    return NULL;
  return loop;
}

static coio_task_t *spawn_sized(coio_loop_t *loop, coio_task_fn fn, void *arg, size_t stack) {
  coio_task_options_t o;
  coio_task_t *t = NULL;
  memset(&o, 0, sizeof o);
  o.stack_size = stack;
  assert_int_equal(coio_task_spawn(loop, fn, arg, &o, &t), 0);
  return t;
}

/* ---- deep recursion ---------------------------------------------------------
 * dive() recurses until it has used `target` bytes of stack below the task's
 * first frame (measured with frame addresses, so it adapts to the compiler
 * and the sanitizers), yielding every 16 levels and at the bottom, and checks
 * on the way back up that each frame's contents survived. */

typedef struct dive {
  size_t target;   /* bytes of stack to use; SIZE_MAX: without bound */
  int yield_every; /* levels; 0: never yield */
  uintptr_t top;   /* the task's first frame */
  size_t reached;  /* the most stack used */
  int depth;       /* levels at the bottom */
  int yields;
  int bad_frames; /* frames found changed on the way back */
  int bad_yields; /* coio_sleep(0) failures */
} dive_t;

static NOINLINE unsigned long dive(dive_t *d, int level) {
  volatile unsigned char pad[480];
  size_t used = d->top - FRAME_ADDRESS();
  unsigned long below;
  pad[0] = (unsigned char)level;
  pad[sizeof pad - 1] = (unsigned char)(level * 7 + 1);
  if (used > d->reached)
    d->reached = used;
  if (used >= d->target) {
    d->depth = level;
    if (d->yield_every) {
      d->bad_yields += coio_sleep(0) != 0;
      d->yields++;
    }
    return (unsigned long)level;
  }
  if (d->yield_every && level % d->yield_every == 0) {
    d->bad_yields += coio_sleep(0) != 0;
    d->yields++;
  }
  below = dive(d, level + 1);
  if (pad[0] != (unsigned char)level || pad[sizeof pad - 1] != (unsigned char)(level * 7 + 1))
    d->bad_frames++;
  return below + (unsigned long)level;
}

static int dive_task(void *arg, void **result) {
  dive_t *d = arg;
  (void)result;
  d->top = FRAME_ADDRESS();
  dive(d, 1);
  return 0;
}

static void deep_recursion_survives_switches_at_every_depth(void **state) {
  coio_loop_t *loop = test_loop_new();
  dive_t d[3];
  coio_task_t *t[3];
  coio_future_t *all;
  int i;
  (void)state;
  memset(d, 0, sizeof d);
  /* Two tasks on the default stack (256 KiB) and one on 64 KiB, each going
   * down to 3/4 of its stack, interleaving: every switch happens with the
   * other stacks deep. */
  d[0].target = d[1].target = DEFAULT_STACK / 4 * 3;
  d[2].target = 64 * KiB / 4 * 3;
  for (i = 0; i < 3; i++)
    d[i].yield_every = 16;
  t[0] = spawn_sized(loop, dive_task, &d[0], 0);
  t[1] = spawn_sized(loop, dive_task, &d[1], 0);
  t[2] = spawn_sized(loop, dive_task, &d[2], 64 * KiB);
  assert_int_equal(coio_gather(loop, t, 3, 0, &all), 0);
  assert_int_equal(run_until(loop, all, 60), 0);
  for (i = 0; i < 3; i++) {
    assert_int_equal(coio_future_result(t[i], NULL), 0);
    assert_true(d[i].reached >= d[i].target);
    assert_true(d[i].depth > 10);
    assert_true(d[i].yields > 1);
    assert_int_equal(d[i].bad_frames, 0);
    assert_int_equal(d[i].bad_yields, 0);
    coio_future_unref(t[i]);
  }
  printf("depth %d (%lu bytes) on 256 KiB, %d (%lu bytes) on 64 KiB, %d switches\n", d[0].depth,
         (unsigned long)d[0].reached, d[2].depth, (unsigned long)d[2].reached,
         d[0].yields + d[1].yields + d[2].yields);
  coio_future_unref(all);
  test_loop_free(loop);
}

/* ---- registers --------------------------------------------------------------
 * Many values live across coio_sleep(0): an optimising compiler keeps them in
 * callee-saved registers (x86-64: rbx, rbp, r12-r15; AArch64: x19-x28 and
 * d8-d15 for the doubles) and spills the rest, so the switch must give every
 * one back. Several tasks with different seeds interleave. */

typedef struct regs {
  int seed;
  int rounds;
  int bad;
} regs_t;

static NOINLINE int keep_values(int seed, int rounds) {
  long a = seed + 1, b = seed * 3 + 2, c = seed * 5 + 3, e = seed * 7 + 4, f = seed * 11 + 5;
  long g = seed * 13 + 6, h = seed * 17 + 7, k = seed * 19 + 8, m = seed * 23 + 9;
  double x0 = seed * 0.5, x1 = seed * 0.25, x2 = seed * 1.5, x3 = seed * 2.5, x4 = seed * 3.5;
  double x5 = seed * 4.5, x6 = seed * 5.5, x7 = seed * 6.5, x8 = seed * 7.5, x9 = seed * 8.5;
  int i, bad = 0;
  for (i = 0; i < rounds; i++) {
    if (coio_sleep(0) != 0)
      return 1000;
    a += 1, b += 2, c += 3, e += 4, f += 5, g += 6, h += 7, k += 8, m += 9;
    x0 += 0.5, x1 += 1.0, x2 += 1.5, x3 += 2.0, x4 += 2.5;
    x5 += 3.0, x6 += 3.5, x7 += 4.0, x8 += 4.5, x9 += 5.0;
  }
  bad += a != seed + 1 + rounds;
  bad += b != seed * 3 + 2 + 2L * rounds;
  bad += c != seed * 5 + 3 + 3L * rounds;
  bad += e != seed * 7 + 4 + 4L * rounds;
  bad += f != seed * 11 + 5 + 5L * rounds;
  bad += g != seed * 13 + 6 + 6L * rounds;
  bad += h != seed * 17 + 7 + 7L * rounds;
  bad += k != seed * 19 + 8 + 8L * rounds;
  bad += m != seed * 23 + 9 + 9L * rounds;
  /* exact: small multiples of 0.5 */
  bad += x0 != seed * 0.5 + 0.5 * rounds;
  bad += x1 != seed * 0.25 + 1.0 * rounds;
  bad += x2 != seed * 1.5 + 1.5 * rounds;
  bad += x3 != seed * 2.5 + 2.0 * rounds;
  bad += x4 != seed * 3.5 + 2.5 * rounds;
  bad += x5 != seed * 4.5 + 3.0 * rounds;
  bad += x6 != seed * 5.5 + 3.5 * rounds;
  bad += x7 != seed * 6.5 + 4.0 * rounds;
  bad += x8 != seed * 7.5 + 4.5 * rounds;
  bad += x9 != seed * 8.5 + 5.0 * rounds;
  return bad;
}

/* Nested calls, each holding its own values across the switches below. */
static NOINLINE int nest(int seed, int levels, int rounds) {
  long here = seed * 31 + levels;
  double dhere = seed * 0.125 + levels;
  int bad;
  if (coio_sleep(0) != 0)
    return 1000;
  bad = levels > 0 ? nest(seed, levels - 1, rounds) : keep_values(seed, rounds);
  if (coio_sleep(0) != 0)
    return 1000;
  bad += here != seed * 31 + levels;
  bad += dhere != seed * 0.125 + levels;
  return bad;
}

static int regs_task(void *arg, void **result) {
  regs_t *r = arg;
  (void)result;
  r->bad = nest(r->seed, 20, r->rounds);
  return 0;
}

static void callee_saved_values_survive_switches(void **state) {
  coio_loop_t *loop = test_loop_new();
  regs_t r[4];
  coio_task_t *t[4];
  coio_future_t *all;
  int i;
  (void)state;
  for (i = 0; i < 4; i++) {
    r[i].seed = 1000 * (i + 1);
    r[i].rounds = 200 + 37 * i;
    r[i].bad = -1;
    t[i] = spawn_sized(loop, regs_task, &r[i], 0);
  }
  assert_int_equal(coio_gather(loop, t, 4, 0, &all), 0);
  assert_int_equal(run_until(loop, all, 60), 0);
  for (i = 0; i < 4; i++) {
    assert_int_equal(r[i].bad, 0);
    coio_future_unref(t[i]);
  }
  coio_future_unref(all);
  test_loop_free(loop);
}

/* ---- floating-point control state ---------------------------------------------
 * The rounding mode is callee-saved state (MXCSR and the x87 control word on
 * x86-64, FPCR on AArch64): each task keeps its own across switches, and a
 * task starts with its creator's. */

#if defined(FE_UPWARD) && defined(FE_DOWNWARD) && defined(FE_TOWARDZERO)
#define HAVE_ROUNDING 1
#endif

#ifdef HAVE_ROUNDING
typedef struct fpjob {
  int set_mode;    /* fesetround() this first, or -1 */
  int expect_mode; /* what fegetround() must say every time */
  int rounds;
  int bad;
  double third; /* 1/3 in the task's mode */
#if defined(__i386__) || defined(__x86_64__)
  long double lthird; /* on the x87: its own control word */
#endif
} fpjob_t;

static int fp_task(void *arg, void **result) {
  fpjob_t *j = arg;
  volatile double one = 1.0, three = 3.0;
#if defined(__i386__) || defined(__x86_64__)
  volatile long double lone = 1.0L, lthree = 3.0L;
#endif
  int i;
  (void)result;
  if (j->set_mode >= 0 && fesetround(j->set_mode) != 0)
    return COIO_EINVAL;
  j->third = one / three;
#if defined(__i386__) || defined(__x86_64__)
  j->lthird = lone / lthree;
#endif
  for (i = 0; i < j->rounds; i++) {
    if (coio_sleep(0) != 0)
      return COIO_ECANCELED;
    j->bad += fegetround() != j->expect_mode;
    j->bad += one / three != j->third;
#if defined(__i386__) || defined(__x86_64__)
    j->bad += lone / lthree != j->lthird;
#endif
  }
  return 0;
}
#endif

static void each_task_keeps_its_rounding_mode(void **state) {
#ifdef HAVE_ROUNDING
  coio_loop_t *loop = test_loop_new();
  fpjob_t j[4];
  coio_task_t *t[4];
  coio_future_t *all;
  int i;
  (void)state;
  if (test_under_wine()) {
    /* Windows switches it (FIBER_FLAG_FLOAT_SWITCH); Wine 8's SwitchToFiber
     * does not ("FIXME: should save floating point context" in
     * kernelbase/thread.c), so the tasks would share one mode. */
    printf("SKIP: Wine's SwitchToFiber does not switch the floating-point state\n");
    return;
  }
  assert_int_equal(fegetround(), FE_TONEAREST);
  memset(j, 0, sizeof j);
  j[0].set_mode = FE_UPWARD, j[0].expect_mode = FE_UPWARD;
  j[1].set_mode = FE_DOWNWARD, j[1].expect_mode = FE_DOWNWARD;
  j[2].set_mode = -1, j[2].expect_mode = FE_TONEAREST;  /* inherited */
  j[3].set_mode = -1, j[3].expect_mode = FE_TOWARDZERO; /* inherited, see below */
  for (i = 0; i < 3; i++) {
    j[i].rounds = 300;
    t[i] = spawn_sized(loop, fp_task, &j[i], 0);
  }
  /* A task starts with the mode of the code that spawned it. */
  j[3].rounds = 300;
  assert_int_equal(fesetround(FE_TOWARDZERO), 0);
  t[3] = spawn_sized(loop, fp_task, &j[3], 0);
  assert_int_equal(fesetround(FE_TONEAREST), 0);

  assert_int_equal(coio_gather(loop, t, 4, 0, &all), 0);
  assert_int_equal(run_until(loop, all, 60), 0);
  for (i = 0; i < 4; i++) {
    assert_int_equal(coio_future_result(t[i], NULL), 0);
    assert_int_equal(j[i].bad, 0);
    coio_future_unref(t[i]);
  }
  /* 1/3 is inexact: rounded up it is above rounded down; to nearest it is
   * one of the two; toward zero (it is positive) it is rounded down. */
  assert_true(j[0].third > j[1].third);
  assert_true(j[2].third == j[0].third || j[2].third == j[1].third);
  assert_true(j[3].third == j[1].third);
#if defined(__i386__) || defined(__x86_64__)
  assert_true(j[0].lthird > j[1].lthird);
  assert_true(j[3].lthird == j[1].lthird);
#endif
  /* and the loop's thread kept its own */
  assert_int_equal(fegetround(), FE_TONEAREST);
  coio_future_unref(all);
  test_loop_free(loop);
#else
  (void)state;
  printf("SKIP: this C library has no FE_UPWARD/FE_DOWNWARD/FE_TOWARDZERO\n");
#endif
}

/* ---- mappings (Linux) ---------------------------------------------------------- */

#ifdef __linux__
static int count_mappings(void) {
  char buf[65536];
  ssize_t n;
  int lines = 0, fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    ssize_t i;
    for (i = 0; i < n; i++)
      lines += buf[i] == '\n';
  }
  close(fd);
  return lines;
}

/* 1 if this kernel has MADV_GUARD_INSTALL (guard regions that cost no
 * mapping: ../shared/PITFALLS.md section 6) and it works (qemu-user
 * accepts it and does nothing: a read of the page by write() must fail). */
static int kernel_has_guard_regions(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int ok, fds[2];
  if (p == MAP_FAILED)
    return 0;
  ok = madvise(p, page, 102 /* MADV_GUARD_INSTALL */) == 0;
  if (ok && pipe(fds) == 0) {
    ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
  }
  munmap(p, 2 * page);
  return ok;
}

/* 1 when the sanitizer runtime maps memory per coroutine (ASan's fake
 * stacks for stack-use-after-return, TSan's fiber state). */
static int sanitizer_maps_per_coroutine(void) {
#if defined(TEST_TSAN)
  return 1;
#elif defined(TEST_ASAN)
  return __asan_get_current_fake_stack() != NULL;
#else
  return 0;
#endif
}
#endif

/* ---- many tasks ---------------------------------------------------------------- */

typedef struct crowd {
  int n;
  int arrived;
  int done;
  int bad;
  int maps_at_peak;
  coio_future_t *go;
} crowd_t;

static int crowd_task(void *arg, void **result) {
  crowd_t *c = arg;
  (void)result;
  if (coio_sleep(0) != 0)
    c->bad++;
  if (++c->arrived == c->n) {
    /* every task is alive and suspended now */
#ifdef __linux__
    c->maps_at_peak = count_mappings();
#endif
    coio_future_set_result(c->go, NULL, NULL);
  } else if (coio_await(c->go) != 0) {
    c->bad++;
  }
  if (coio_sleep(0.001) != 0)
    c->bad++;
  c->done++;
  return 0;
}

static void ten_thousand_concurrent_tasks_complete(void **state) {
  coio_loop_t *loop = test_loop_new();
  crowd_t c;
  coio_task_t **t;
  coio_future_t *all;
  int i, maps_before = -1;
  (void)state;
  memset(&c, 0, sizeof c);
  c.n = 10000;
#ifdef TEST_TSAN
  /* ThreadSanitizer maps state for every fiber (about four mappings) and
   * keeps it after the fiber is destroyed: 10,000 tasks work but leave the
   * process with some 40,000 mappings, too close to vm.max_map_count. */
  c.n = 2000;
  printf("NOTE: ThreadSanitizer: %d tasks instead of 10,000 (its per-fiber mappings)\n", c.n);
#endif
#ifdef __linux__
  maps_before = count_mappings();
#endif
  assert_int_equal(coio_future_new(loop, &c.go), 0);
  t = calloc((size_t)c.n, sizeof *t);
  assert_non_null(t);
  for (i = 0; i < c.n; i++)
    t[i] = spawn_sized(loop, crowd_task, &c, 0);
  assert_int_equal(coio_gather(loop, t, (size_t)c.n, 0, &all), 0);
  assert_int_equal(run_until(loop, all, 100), 0);
  assert_int_equal(c.done, c.n);
  assert_int_equal(c.bad, 0);
  for (i = 0; i < c.n; i++)
    coio_future_unref(t[i]);
  free(t);
  coio_future_unref(all);
  coio_future_unref(c.go);
  test_loop_free(loop);
#ifdef __linux__
  printf("%d live tasks: %d mappings before, %d at the peak (guard regions: %s)\n", c.n,
         maps_before, c.maps_at_peak, kernel_has_guard_regions() ? "madvise" : "mprotect");
  /* With MADV_GUARD_INSTALL a stack is one mapping, merged with its
   * neighbours: far fewer than one per task. With mprotect it is two per
   * task, which is what runs out at about 32,000 tasks. */
  if (kernel_has_guard_regions() && !sanitizer_maps_per_coroutine())
    assert_true(c.maps_at_peak - maps_before < c.n / 10);
#else
  (void)maps_before;
#endif
}

/* ---- the pool --------------------------------------------------------------------- */

typedef struct hop {
  int ran;
} hop_t;

static int hop_task(void *arg, void **result) {
  hop_t *h = arg;
  (void)result;
  if (coio_sleep(0) == 0)
    h->ran++;
  return 0;
}

static void stacks_are_reused_from_the_pool(void **state) {
  coio_loop_t *loop = test_loop_new();
  static const size_t sizes[3] = {0, 64 * 1024, 128 * 1024};
  hop_t h = {0};
  int i, n = 3000, maps_early = -1, maps_late = -1;
  double t0 = 0, t1;
  (void)state;
  for (i = 0; i < n; i++) {
    coio_task_t *t = spawn_sized(loop, hop_task, &h, sizes[i % 3]);
    assert_int_equal(run_until(loop, t, 10), 0);
    coio_future_unref(t);
    if (i == 299) {
      t0 = coio_loop_time(loop);
#ifdef __linux__
      maps_early = count_mappings();
#endif
    }
  }
  t1 = coio_loop_time(loop);
#ifdef __linux__
  maps_late = count_mappings();
#endif
  assert_int_equal(h.ran, n);
  printf("spawn + run (one switch in, one yield, end) + join, one at a time: %.2f us per task\n",
         (t1 - t0) * 1e6 / (n - 300));
#ifdef __linux__
  printf("mappings after 300 tasks: %d, after %d: %d\n", maps_early, n, maps_late);
  /* Three sizes in the pool: nothing more is mapped once it is warm. */
  assert_true(maps_late <= maps_early + 8);
#else
  (void)maps_early, (void)maps_late;
#endif
  test_loop_free(loop);
}

/* ---- a loop closed with tasks suspended deep in their stacks --------------------- */

typedef struct stuck {
  coio_loop_t *loop;
  int n;
  int suspended;
} stuck_t;

static NOINLINE int sink(stuck_t *s, int levels) {
  volatile char pad[256];
  pad[0] = (char)levels;
  if (levels > 0)
    return sink(s, levels - 1) + pad[0];
  if (++s->suspended == s->n)
    coio_loop_stop(s->loop);
  /* A sleep, not an await: coio_await's reference to the awaited future
   * lives in the frame that is never unwound. */
  return coio_sleep(3600) + pad[0];
}

static int stuck_task(void *arg, void **result) {
  (void)result;
  return sink(arg, 40);
}

static void freeing_a_loop_frees_suspended_tasks(void **state) {
  int round;
  (void)state;
  for (round = 0; round < 3; round++) {
    coio_loop_t *loop = test_loop_new();
    stuck_t s;
    int i;
    memset(&s, 0, sizeof s);
    s.n = 100;
    s.loop = loop;
    for (i = 0; i < s.n; i++)
      assert_int_equal(coio_task_spawn(loop, stuck_task, &s, NULL, NULL), 0);
    assert_int_equal(test_run_bounded(loop, 30), 0);
    assert_int_equal(s.suspended, s.n);
    /* Every task is suspended deep in its stack: closing the loop releases
     * the stacks without running the tasks (ASan: no report, no leak). */
    test_loop_free(loop);
  }
}

/* ---- stack sizes and overflows, in a child process ------------------------------- */

typedef struct child_spec {
  size_t loop_stack;    /* the loop's task_stack_size (0: the default) */
  size_t task_stack;    /* the task's stack_size (0: the loop's) */
  size_t dive;          /* bytes of stack to use (0: without bound) */
  int no_guard_regions; /* Linux: make MADV_GUARD_INSTALL fail, as on
                         * kernels before 6.13 (the mprotect fallback) */
} child_spec_t;

/* The child's work: one task that recurses as told. Returns 0 if it came
 * back (no overflow), 3 if the loop or the task could not be made. */
#ifdef __linux__
/* A seccomp filter that makes madvise(MADV_GUARD_INSTALL) fail with EINVAL,
 * as a kernel before 6.13 does: coio falls back to mprotect'ed guards. */
static int refuse_guard_regions(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 102, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EINVAL & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog;
  prog.len = (unsigned short)(sizeof filter / sizeof filter[0]);
  prog.filter = filter;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#endif

/* Exit code of a child that cannot do what it was asked here (no seccomp:
 * qemu-user, say). */
#define CHILD_SKIP 77
/* Exit code of a child whose SIGSEGV hit the guard region of its task's
 * stack (Linux, without sanitizers: the test's own handler checks). */
#define CHILD_GUARD_HIT 40
#define CHILD_FAULT_ELSEWHERE 41

#if defined(__linux__) && !defined(TEST_ASAN) && !defined(TEST_TSAN)
#define CHECK_FAULT_ADDRESS 1
static const dive_t *fault_dive;
static size_t fault_stack_size;

/* On the alternate stack: was the faulting address in the 64 KiB guard
 * below the task's stack? The stack's top is the page boundary just above
 * the task's first frame; its base is top - the stack size. */
static void on_segv(int sig, siginfo_t *si, void *uc) {
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t top = (fault_dive->top + page - 1) / page * page;
  uintptr_t base = top - fault_stack_size, addr = (uintptr_t)si->si_addr;
  (void)sig, (void)uc;
  _exit(addr < base && addr >= base - 64 * KiB ? CHILD_GUARD_HIT : CHILD_FAULT_ELSEWHERE);
}

static void catch_overflow(const dive_t *d, size_t stack_size) {
  static char altstack[64 * 1024];
  stack_t ss;
  struct sigaction sa;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  fault_dive = d;
  fault_stack_size = (stack_size < 16 * KiB ? 16 * KiB : stack_size + page - 1) / page * page;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  sigaltstack(&ss, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
  sigaction(SIGSEGV, &sa, NULL);
}
#endif

static int child_dive(const child_spec_t *spec) {
  coio_loop_t *loop;
  coio_task_options_t o;
  coio_task_t *t = NULL;
  dive_t d;
#ifdef __linux__
  if (spec->no_guard_regions && refuse_guard_regions() != 0)
    return CHILD_SKIP;
#endif
  if (!(loop = loop_with_stack(spec->loop_stack)))
    return 3;
  memset(&d, 0, sizeof d);
#ifdef CHECK_FAULT_ADDRESS
  catch_overflow(&d, spec->task_stack   ? spec->task_stack
                     : spec->loop_stack ? spec->loop_stack
                                        : DEFAULT_STACK);
#endif
  d.target = spec->dive ? spec->dive : (size_t)-1;
  d.yield_every = 64;
  memset(&o, 0, sizeof o);
  o.stack_size = spec->task_stack;
  if (coio_task_spawn(loop, dive_task, &d, &o, &t) != 0)
    return 3;
  coio_loop_run_until_complete(loop, t);
  coio_future_unref(t);
  coio_loop_free(loop);
  return 0;
}

/* How the child ended. */
enum { CHILD_RETURNED, CHILD_CRASHED, CHILD_SANITIZER_EXIT, CHILD_SKIPPED, CHILD_OTHER };

#ifdef _WIN32
/* Runs this program again as `test_coro <backend> --child <loop> <task> <dive>`. */
static int run_child(const child_spec_t *spec, unsigned long *code_out) {
  char exe[MAX_PATH], cmd[MAX_PATH + 128];
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  DWORD code = 0;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!GetModuleFileNameA(NULL, exe, sizeof exe))
    return CHILD_OTHER;
  snprintf(cmd, sizeof cmd, "\"%s\" %s --child %lu %lu %lu", exe, coio_test_backend,
           (unsigned long)spec->loop_stack, (unsigned long)spec->task_stack,
           (unsigned long)spec->dive);
  if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
    return CHILD_OTHER;
  if (WaitForSingleObject(pi.hProcess, 60000) != WAIT_OBJECT_0) {
    TerminateProcess(pi.hProcess, 1);
    WaitForSingleObject(pi.hProcess, INFINITE);
  }
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  *code_out = code;
  if (code == 0)
    return CHILD_RETURNED;
  if (code == 0xC00000FDu /* STATUS_STACK_OVERFLOW */ || code == 0xC0000005u /* access violation */)
    return CHILD_CRASHED;
  return CHILD_OTHER;
}
#else
static int run_child(const child_spec_t *spec, unsigned long *code_out) {
  int status = 0;
  pid_t pid;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0)
    return CHILD_OTHER;
  if (pid == 0) {
#if defined(TEST_ASAN) || defined(TEST_TSAN)
    /* The sanitizer's report of the overflow is expected: keep it out of
     * the log. */
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0)
      dup2(null, 2);
#endif
    _exit(child_dive(spec));
  }
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *code_out = (unsigned long)status;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return CHILD_RETURNED;
  if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP)
    return CHILD_SKIPPED;
#ifdef CHECK_FAULT_ADDRESS
  if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_GUARD_HIT)
    return CHILD_CRASHED;
#else
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
    return CHILD_CRASHED;
#endif
#if defined(TEST_ASAN) || defined(TEST_TSAN)
  /* ASan catches the SIGSEGV, reports "stack-overflow" and exits 1. */
  if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
    return CHILD_SANITIZER_EXIT;
#endif
  return CHILD_OTHER;
}
#endif

/* 1 (and says why) where a child's stack overflow cannot be observed. */
static int overflow_cannot_be_observed(void) {
  if (test_under_wine()) {
    /* Wine 8 cannot deliver STATUS_STACK_OVERFLOW for a fiber's stack: it
     * logs "virtual_setup_exception stack overflow" and ends the process
     * with a status (0 or 1) that says nothing. Windows raises it. */
    printf("SKIP: stack overflow in a child: Wine does not raise STATUS_STACK_OVERFLOW on "
           "fiber stacks\n");
    return 1;
  }
  return 0;
}

/* Asserts that the child's task overflowed its stack and crashed there. */
static void expect_overflow(const child_spec_t *spec) {
  unsigned long code = 0;
  int how = run_child(spec, &code);
  if (how == CHILD_SKIPPED) {
    printf("SKIP: overflow with mprotect'ed guards: no seccomp here to refuse "
           "MADV_GUARD_INSTALL\n");
    return;
  }
  if (how != CHILD_CRASHED && how != CHILD_SANITIZER_EXIT)
    fail_msg("child (loop stack %lu, task stack %lu, dive %lu%s) did not crash at its guard: "
             "outcome %d, status 0x%lx",
             (unsigned long)spec->loop_stack, (unsigned long)spec->task_stack,
             (unsigned long)spec->dive, spec->no_guard_regions ? ", mprotect guard" : "", how,
             code);
}

static void stack_overflow_crashes_at_the_guard(void **state) {
  child_spec_t spec;
  (void)state;
  if (overflow_cannot_be_observed())
    return;
  memset(&spec, 0, sizeof spec); /* default stack, recursion without bound */
  expect_overflow(&spec);
  spec.task_stack = 32 * KiB;
  expect_overflow(&spec);
#ifdef __linux__
  /* the same with mprotect'ed guards (kernels before 6.13) */
  spec.no_guard_regions = 1;
  expect_overflow(&spec);
  spec.task_stack = 0;
  expect_overflow(&spec);
#endif
}

static void stack_sizes_per_task_and_per_loop_are_honoured(void **state) {
  coio_loop_t *loop;
  child_spec_t spec;
  dive_t d;
  coio_task_t *t;
  (void)state;
  /* 768 KiB of recursion fits in a task asking for 1 MiB ... */
  loop = test_loop_new();
  memset(&d, 0, sizeof d);
  d.target = 768 * KiB;
  t = spawn_sized(loop, dive_task, &d, 1024 * KiB);
  assert_int_equal(run_until(loop, t, 60), 0);
  assert_true(d.reached >= d.target);
  coio_future_unref(t);
  test_loop_free(loop);
  /* ... and in any task of a loop whose tasks get 1 MiB ... */
  loop = loop_with_stack(1024 * KiB);
  assert_non_null(loop);
  memset(&d, 0, sizeof d);
  d.target = 768 * KiB;
  t = spawn_sized(loop, dive_task, &d, 0);
  assert_int_equal(run_until(loop, t, 60), 0);
  assert_true(d.reached >= d.target);
  coio_future_unref(t);
  test_loop_free(loop);
  /* ... but overflows the default 256 KiB, a task's 64 KiB, and a task's
   * 64 KiB in that 1 MiB loop (the task's own size wins). */
  if (overflow_cannot_be_observed())
    return;
  memset(&spec, 0, sizeof spec);
  spec.dive = 768 * KiB;
  expect_overflow(&spec);
  spec.task_stack = 64 * KiB;
  expect_overflow(&spec);
  spec.loop_stack = 1024 * KiB;
  expect_overflow(&spec);
}

/* ---- out of mappings (Linux) -------------------------------------------------------
 * In a child: madvise(MADV_GUARD_INSTALL) made to fail with EINVAL (a
 * seccomp filter, as on a kernel older than 6.13), so stacks get mprotect'ed
 * guards, two mappings each; the process's mappings used up; then spawning
 * must fail with COIO_ENOMEM, not crash, and work again once mappings are
 * released. */

#if defined(__linux__) && !defined(TEST_ASAN) && !defined(TEST_TSAN)
#define HAVE_MAP_EXHAUSTION_TEST 1

static int nop_task(void *arg, void **result) {
  (void)arg, (void)result;
  return 0;
}

static long max_map_count(void) {
  char buf[32];
  ssize_t n;
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = 0;
  return strtol(buf, NULL, 10);
}

/* Exit codes: 0 ok, CHILD_SKIP, 10+ the step that went wrong. */
static int child_exhaust(void) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), npages, i;
  long limit = max_map_count();
  coio_loop_t *loop;
  coio_task_options_t o;
  coio_task_t **tasks;
  char *hole;
  int n = 0, rc = 0, max = 40000, j;
  if (limit <= 0 || limit > 1000000)
    return CHILD_SKIP; /* unknown, or too many to use up quickly */
  /* Each page made readable below adds two mappings. */
  npages = (size_t)limit + 1000;
  if (refuse_guard_regions() != 0)
    return CHILD_SKIP + 1;
  if (!(loop = loop_with_stack(0)))
    return 11;
  tasks = calloc((size_t)max, sizeof *tasks);
  if (!tasks)
    return 12;
  memset(&o, 0, sizeof o);
  o.stack_size = 16 * 1024;
  /* One spawn before, so that everything the loop needs once is made. */
  if (coio_task_spawn(loop, nop_task, NULL, &o, &tasks[n++]) != 0)
    return 13;
  /* Use up the mappings: every other page of a reservation made readable
   * splits it, until the kernel refuses. */
  hole = mmap(NULL, npages * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (hole == MAP_FAILED)
    return 14;
  for (i = 1; i < npages; i += 2)
    if (mprotect(hole + i * page, page, PROT_READ) != 0)
      break;
  if (i >= npages || errno != ENOMEM)
    return 15;
  /* Spawning now fails cleanly (a few may still fit). */
  while (n < max && (rc = coio_task_spawn(loop, nop_task, NULL, &o, &tasks[n])) == 0)
    n++;
  if (rc != COIO_ENOMEM)
    return 16;
  printf("out of mappings: COIO_ENOMEM after %d tasks\n", n);
  fflush(stdout);
  /* Mappings back: spawning works again, and every task runs. */
  munmap(hole, npages * page);
  if (coio_task_spawn(loop, nop_task, NULL, &o, &tasks[n]) != 0)
    return 17;
  n++;
  for (j = 0; j < n; j++) {
    if (coio_loop_run_until_complete(loop, tasks[j]) != 0)
      return 18;
    coio_future_unref(tasks[j]);
  }
  free(tasks);
  return coio_loop_free(loop) == 0 ? 0 : 19;
}
#endif

static void running_out_of_mappings_gives_enomem(void **state) {
#ifdef HAVE_MAP_EXHAUSTION_TEST
  int status = 0;
  pid_t pid;
  (void)state;
  fflush(stdout);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0)
    _exit(child_exhaust());
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP) {
    printf("SKIP: running out of mappings: vm.max_map_count unreadable or above 1,000,000\n");
    return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP + 1) {
    printf("SKIP: running out of mappings: no seccomp here to refuse MADV_GUARD_INSTALL\n");
    return;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("child: %s %d", WIFEXITED(status) ? "exit code" : "signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
#else
  (void)state;
#if defined(__linux__)
  printf("SKIP: running out of mappings: not under a sanitizer (its runtime needs mappings too)\n");
#else
  printf("SKIP: running out of mappings: a Linux test (vm.max_map_count)\n");
#endif
#endif
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(deep_recursion_survives_switches_at_every_depth),
    cmocka_unit_test(callee_saved_values_survive_switches),
    cmocka_unit_test(each_task_keeps_its_rounding_mode),
    cmocka_unit_test(ten_thousand_concurrent_tasks_complete),
    cmocka_unit_test(stacks_are_reused_from_the_pool),
    cmocka_unit_test(freeing_a_loop_frees_suspended_tasks),
    cmocka_unit_test(stack_overflow_crashes_at_the_guard),
    cmocka_unit_test(stack_sizes_per_task_and_per_loop_are_honoured),
    cmocka_unit_test(running_out_of_mappings_gives_enomem),
};

int main(int argc, char **argv) {
  /* test_coro <backend> --child <loop stack> <task stack> <dive>: the
   * child process of the overflow tests (Windows; Linux forks instead). */
  if (argc == 6 && strcmp(argv[2], "--child") == 0) {
    child_spec_t spec;
    coio_test_backend = argv[1];
    spec.loop_stack = (size_t)strtoul(argv[3], NULL, 10);
    spec.task_stack = (size_t)strtoul(argv[4], NULL, 10);
    spec.dive = (size_t)strtoul(argv[5], NULL, 10);
#ifdef _WIN32
    /* No error dialog or debugger for the expected crash. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
#endif
    return child_dive(&spec);
  }
  return test_main(argc, argv, "coro", tests, sizeof tests / sizeof tests[0]);
}
