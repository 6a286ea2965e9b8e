/* tests/bench/micro_uv.c - libuv's side of the loop micro-benchmarks, where
 * libuv has the same thing: timers (uv_timer_t) and cross-thread wake-ups
 * (uv_async_send). libuv has no call_soon, futures or tasks.
 *   bench_micro_uv [--quick] [--repeat N] */
#include "bench_util.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#include <uv.h>

static int quick, repeats = 3;
static const char impl[] = "libuv";

#define CHECK(expr)                                                                          \
  do {                                                                                       \
    int rc_ = (expr);                                                                        \
    if (rc_ < 0) {                                                                           \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, uv_strerror(rc_));       \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

/* ---- timers ------------------------------------------------------------------ */
static size_t fired;
static void timer_cb(uv_timer_t *t) {
  (void)t;
  fired++;
}

static void bench_timers(double *ns_per_timer, double *bytes_per_timer, double *peak_mib) {
  size_t n = quick ? 200000 : 1000000, i;
  uint64_t seed = 0x9E3779B97F4A7C15u, rss0, t0;
  uv_loop_t loop;
  uv_timer_t *timers;
  CHECK(uv_loop_init(&loop));
  malloc_trim(0);
  rss0 = bench_rss();
  bench_reset_hwm();
  t0 = bench_cpu_ns();
  /* libuv keeps timers in memory the caller provides: part of its cost. */
  timers = malloc(n * sizeof *timers);
  if (!timers)
    exit(1);
  fired = 0;
  for (i = 0; i < n; i++) {
    CHECK(uv_timer_init(&loop, &timers[i]));
    CHECK(uv_timer_start(&timers[i], timer_cb, bench_rand(&seed) % 50, 0));
  }
  CHECK(uv_run(&loop, UV_RUN_DEFAULT) >= 0 ? 0 : -1);
  *ns_per_timer = (double)(bench_cpu_ns() - t0) / (double)n;
  *peak_mib = (double)bench_hwm() / (1024.0 * 1024.0);
  *bytes_per_timer = (double)(bench_hwm() - rss0) / (double)n;
  if (fired != n)
    fprintf(stderr, "timers: %zu of %zu fired\n", fired, n), exit(1);
  for (i = 0; i < n; i++)
    uv_close((uv_handle_t *)&timers[i], NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop));
  free(timers);
}

/* ---- uv_async_send ping-pong --------------------------------------------------- */
static atomic_size_t acked;
static atomic_int stopping, ready;
static size_t pingpongs;
static uv_async_t async;

static void async_cb(uv_async_t *a) {
  if (atomic_load(&stopping)) {
    uv_close((uv_handle_t *)a, NULL);
    return;
  }
  atomic_fetch_add_explicit(&acked, 1, memory_order_release);
}

static void prepare_cb(uv_prepare_t *p) {
  atomic_store(&ready, 1);
  uv_prepare_stop(p);
  uv_close((uv_handle_t *)p, NULL);
}

static void *pinger(void *arg) {
  size_t i, spins;
  (void)arg;
  while (!atomic_load(&ready))
    sched_yield();
  for (i = 0; i < pingpongs; i++) {
    CHECK(uv_async_send(&async));
    /* Spin, but yield now and then: on a loaded 2-core machine a pure spin
     * could keep the loop's thread from running. */
    for (spins = 0; atomic_load_explicit(&acked, memory_order_acquire) != i + 1; spins++)
      if (spins > 2000)
        sched_yield();
  }
  atomic_store(&stopping, 1);
  CHECK(uv_async_send(&async));
  return NULL;
}

static void bench_async(double *wakeups_per_s) {
  uv_loop_t loop;
  uv_prepare_t prep;
  pthread_t th;
  uint64_t t0;
  pingpongs = quick ? 20000 : 100000;
  CHECK(uv_loop_init(&loop));
  CHECK(uv_async_init(&loop, &async, async_cb));
  CHECK(uv_prepare_init(&loop, &prep));
  CHECK(uv_prepare_start(&prep, prepare_cb));
  atomic_store(&acked, 0);
  atomic_store(&stopping, 0);
  atomic_store(&ready, 0);
  t0 = bench_now_ns();
  pthread_create(&th, NULL, pinger, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  *wakeups_per_s = (double)pingpongs / ((double)(bench_now_ns() - t0) / 1e9);
  CHECK(uv_loop_close(&loop));
}

#define MAXREP 32
typedef struct series {
  double v[MAXREP];
  size_t n;
} series_t;

static void report(const char *cell, const char *metric, series_t *s) {
  bench_result("loop", cell, impl, metric, bench_median(s->v, s->n));
}

int main(int argc, char **argv) {
  int i, r;
  series_t a, b, c;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1, repeats = 1;
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeats = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--quick] [--repeat N]\n", argv[0]);
      return 2;
    }
  }
  if (repeats < 1 || repeats > MAXREP)
    repeats = 3;
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#define REPEAT(stmt)                                                                         \
  do {                                                                                       \
    a.n = b.n = c.n = 0;                                                                     \
    for (r = -1; r < repeats; r++) {                                                         \
      double x = 0, y = 0, z = 0;                                                            \
      stmt;                                                                                  \
      if (r >= 0)                                                                            \
        a.v[a.n++] = x, b.v[b.n++] = y, c.v[c.n++] = z;                                      \
    }                                                                                        \
  } while (0)
  REPEAT(bench_timers(&x, &y, &z));
  report("timers_random_0_50ms", "ns_per_timer", &a);
  report("timers_random_0_50ms", "bytes_per_timer", &b);
  report("timers_random_0_50ms", "peak_rss_MiB", &c);
  REPEAT(bench_async(&x));
  report("call_soon_threadsafe_pingpong", "wakeups_per_s", &a);
  return 0;
}
