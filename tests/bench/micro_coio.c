/* tests/bench/micro_coio.c - coio's loop and task micro-benchmarks.
 *   bench_micro_coio [--quick] [--backend NAME] [--repeat N] [--probe]
 * (--probe: exit 0 if the backend can run here, 1 if not.)
 * Each benchmark runs once as a warm-up, then N times (3; 1 with --quick),
 * and prints the median of each figure as RESULT lines (bench_util.h). */
#include "bench_util.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

#include <coio/coio.h>

/* Internal: the stack switch under tasks (tests/bench/CMakeLists.txt adds
 * the source tree to this program's include path). */
#include "common/coro.h"

static const char *backend = "epoll";
static char impl[64];
static int quick, repeats = 3;

#define CHECK(expr)                                                                          \
  do {                                                                                       \
    int rc_ = (expr);                                                                        \
    if (rc_ < 0) {                                                                           \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, coio_strerror(rc_));     \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

static coio_loop_t *new_loop(void) {
  coio_loop_t *loop;
  coio_loop_options_t o;
  memset(&o, 0, sizeof o);
  o.backend = backend;
  CHECK(coio_loop_new(&loop, &o));
  return loop;
}

/* Runs one batch of ready callbacks (stop before run: poll once, one batch). */
static void run_once(coio_loop_t *loop) {
  CHECK(coio_loop_stop(loop));
  CHECK(coio_loop_run_forever(loop));
}

/* ---- call_soon ------------------------------------------------------------- */
static size_t counter;
static void count_cb(coio_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
  counter++;
}

#define BATCH 1024
static void bench_call_soon(double *ns_per_cb) {
  size_t n = quick ? 200000 : 2000000, i, done = 0;
  coio_loop_t *loop = new_loop();
  uint64_t t0 = bench_now_ns();
  counter = 0;
  while (done < n) {
    for (i = 0; i < BATCH; i++)
      CHECK(coio_call_soon(loop, count_cb, NULL, NULL));
    done += BATCH;
    run_once(loop);
  }
  *ns_per_cb = (double)(bench_now_ns() - t0) / (double)done;
  if (counter != done)
    fprintf(stderr, "call_soon: %zu of %zu ran\n", counter, done), exit(1);
  CHECK(coio_loop_free(loop));
}

/* ---- timers ------------------------------------------------------------------ */
static size_t timers_left;
static void timer_cb(coio_loop_t *loop, void *arg) {
  (void)arg;
  if (--timers_left == 0)
    coio_loop_stop(loop);
}

static void bench_timers(double *ns_per_timer, double *bytes_per_timer, double *peak_mib) {
  size_t n = quick ? 200000 : 1000000, i;
  uint64_t seed = 0x9E3779B97F4A7C15u, rss0, t0;
  coio_loop_t *loop = new_loop();
  malloc_trim(0);
  rss0 = bench_rss();
  bench_reset_hwm();
  t0 = bench_cpu_ns();
  timers_left = n;
  for (i = 0; i < n; i++)
    CHECK(coio_call_later(loop, (double)(bench_rand(&seed) % 50) / 1000.0, timer_cb, NULL, NULL));
  CHECK(coio_loop_run_forever(loop));
  *ns_per_timer = (double)(bench_cpu_ns() - t0) / (double)n;
  *peak_mib = (double)bench_hwm() / (1024.0 * 1024.0);
  *bytes_per_timer = (double)(bench_hwm() - rss0) / (double)n;
  CHECK(coio_loop_free(loop));
}

/* ---- futures ------------------------------------------------------------------ */
static void fut_cb(coio_future_t *f, void *arg) {
  (void)f;
  (void)arg;
  counter++;
}

static void bench_future(double *ns_per_future) {
  size_t n = quick ? 200000 : 1000000, i, done = 0;
  coio_loop_t *loop = new_loop();
  uint64_t t0 = bench_now_ns();
  counter = 0;
  while (done < n) {
    for (i = 0; i < BATCH; i++) {
      coio_future_t *f;
      CHECK(coio_future_new(loop, &f));
      CHECK(coio_future_add_done_callback(f, fut_cb, NULL));
      CHECK(coio_future_set_result(f, NULL, NULL));
      coio_future_unref(f);
    }
    done += BATCH;
    run_once(loop);
  }
  *ns_per_future = (double)(bench_now_ns() - t0) / (double)done;
  if (counter != done)
    fprintf(stderr, "future: %zu of %zu callbacks ran\n", counter, done), exit(1);
  CHECK(coio_loop_free(loop));
}

/* ---- call_soon_threadsafe ping-pong ----------------------------------------- */
static atomic_size_t acked;
static size_t pingpongs;
static coio_loop_t *ts_loop;

static void ack_cb(coio_loop_t *loop, void *arg) {
  (void)loop;
  (void)arg;
  atomic_fetch_add_explicit(&acked, 1, memory_order_release);
}
static void stop_cb(coio_loop_t *loop, void *arg) {
  (void)arg;
  coio_loop_stop(loop);
}

static void *pinger(void *arg) {
  size_t i, spins;
  (void)arg;
  /* Wait until the loop is blocked in the kernel before the first ping. */
  while (!coio_loop_is_running(ts_loop))
    sched_yield();
  for (i = 0; i < pingpongs; i++) {
    CHECK(coio_call_soon_threadsafe(ts_loop, ack_cb, NULL));
    /* Spin, but yield now and then: on a loaded 2-core machine a pure spin
     * could keep the loop's thread from running. */
    for (spins = 0; atomic_load_explicit(&acked, memory_order_acquire) != i + 1; spins++)
      if (spins > 2000)
        sched_yield();
  }
  CHECK(coio_call_soon_threadsafe(ts_loop, stop_cb, NULL));
  return NULL;
}

static void bench_threadsafe(double *wakeups_per_s) {
  pthread_t th;
  uint64_t t0;
  pingpongs = quick ? 20000 : 100000;
  ts_loop = new_loop();
  atomic_store(&acked, 0);
  t0 = bench_now_ns();
  pthread_create(&th, NULL, pinger, NULL);
  CHECK(coio_loop_run_forever(ts_loop));
  pthread_join(th, NULL);
  *wakeups_per_s = (double)pingpongs / ((double)(bench_now_ns() - t0) / 1e9);
  CHECK(coio_loop_free(ts_loop));
}

/* ---- tasks -------------------------------------------------------------------- */
static size_t task_n;
static double task_ns;
static coio_future_t *gate;

static int sleeper(void *arg, void **result) {
  size_t i;
  uint64_t t0 = bench_now_ns();
  (void)arg;
  (void)result;
  for (i = 0; i < task_n; i++)
    CHECK(coio_sleep(0));
  task_ns = (double)(bench_now_ns() - t0) / (double)task_n;
  return 0;
}

static void run_task(coio_loop_t *loop, coio_task_fn fn) {
  coio_task_t *t;
  CHECK(coio_task_spawn(loop, fn, NULL, NULL, &t));
  CHECK(coio_loop_run_until_complete(loop, t));
  coio_future_unref(t);
}

static void bench_sleep0(double *ns) {
  coio_loop_t *loop = new_loop();
  task_n = quick ? 200000 : 1000000;
  run_task(loop, sleeper);
  *ns = task_ns;
  CHECK(coio_loop_free(loop));
}

static int trivial(void *arg, void **result) {
  (void)arg;
  (void)result;
  return 0;
}

static int spawner(void *arg, void **result) {
  size_t i;
  uint64_t t0;
  (void)arg;
  (void)result;
  for (i = 0; i < 1000; i++) { /* fill the stack pool */
    coio_task_t *c;
    CHECK(coio_task_spawn(coio_future_loop(coio_task_current()), trivial, NULL, NULL, &c));
    CHECK(coio_await(c));
    coio_future_unref(c);
  }
  t0 = bench_now_ns();
  for (i = 0; i < task_n; i++) {
    coio_task_t *c;
    CHECK(coio_task_spawn(coio_future_loop(coio_task_current()), trivial, NULL, NULL, &c));
    CHECK(coio_await(c));
    coio_future_unref(c);
  }
  task_ns = (double)(bench_now_ns() - t0) / (double)task_n;
  return 0;
}

static void bench_spawn_join(double *ns) {
  coio_loop_t *loop = new_loop();
  task_n = quick ? 50000 : 300000;
  run_task(loop, spawner);
  *ns = task_ns;
  CHECK(coio_loop_free(loop));
}

static int gated(void *arg, void **result) {
  (void)arg;
  (void)result;
  return coio_await(gate);
}

static coio_task_t **many;
static uint64_t mem_before, mem_idle;

static int crowd(void *arg, void **result) {
  size_t i;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  (void)arg;
  (void)result;
  CHECK(coio_future_new(loop, &gate));
  for (i = 0; i < task_n; i++)
    CHECK(coio_task_spawn(loop, gated, NULL, NULL, &many[i]));
  CHECK(coio_sleep(0)); /* every child runs to its await */
  mem_idle = bench_rss();
  CHECK(coio_future_set_result(gate, NULL, NULL));
  for (i = 0; i < task_n; i++) {
    CHECK(coio_await(many[i]));
    coio_future_unref(many[i]);
  }
  coio_future_unref(gate);
  return 0;
}

/* n tasks all suspended at once: RSS per idle task, then the time to start,
 * park, wake and join them all, and the peak RSS. */
static void bench_crowd(size_t n, double *bytes_per_task, double *ns_per_task, double *peak_mib) {
  coio_loop_t *loop = new_loop();
  uint64_t t0;
  task_n = n;
  many = calloc(n, sizeof *many);
  malloc_trim(0);
  mem_before = bench_rss();
  bench_reset_hwm();
  t0 = bench_now_ns();
  run_task(loop, crowd);
  *ns_per_task = (double)(bench_now_ns() - t0) / (double)n;
  *bytes_per_task = (double)(mem_idle - mem_before) / (double)n;
  *peak_mib = (double)bench_hwm() / (1024.0 * 1024.0);
  CHECK(coio_loop_free(loop));
  free(many);
}

/* ---- raw stack switch --------------------------------------------------------- */
static coio__coro_t *sw_co;

static void switcher(void *arg) {
  (void)arg;
  for (;;)
    coio__coro_yield(sw_co);
}

/* A resume + yield pair on a bare coroutine: no loop, no task. */
static void bench_switch(double *ns) {
  size_t n = quick ? 2000000 : 20000000, i;
  coio__stack_pool_t *pool;
  uint64_t t0;
  if (coio__stack_pool_new(&pool) != 0 || coio__coro_new(&sw_co, pool, 0, switcher, NULL) != 0)
    fprintf(stderr, "coro: out of memory\n"), exit(1);
  coio__coro_resume(sw_co); /* runs to its first yield */
  t0 = bench_now_ns();
  for (i = 0; i < n; i++)
    coio__coro_resume(sw_co);
  *ns = (double)(bench_now_ns() - t0) / (double)n;
  coio__coro_free(sw_co); /* suspended: allowed, nothing to unwind */
  coio__stack_pool_free(pool);
}

/* ---- driver --------------------------------------------------------------------- */
#define MAXREP 32
typedef struct series {
  double v[MAXREP];
  size_t n;
} series_t;

static void report(const char *cell, const char *metric, series_t *s) {
  bench_result("loop", cell, impl, metric, bench_median(s->v, s->n));
}

int main(int argc, char **argv) {
  int i, r, probe = 0;
  series_t a, b, c;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      quick = 1, repeats = 1;
    else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
      backend = argv[++i];
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      repeats = atoi(argv[++i]);
    else if (strcmp(argv[i], "--probe") == 0)
      probe = 1;
    else {
      fprintf(stderr, "usage: %s [--quick] [--backend NAME] [--repeat N] [--probe]\n", argv[0]);
      return 2;
    }
  }
  if (repeats < 1 || repeats > MAXREP)
    repeats = 3;
  if (coio_backend_probe(backend) != 0) {
    fprintf(stderr, "backend %s not available here: skipped\n", backend);
    return probe ? 1 : 0;
  }
  if (probe)
    return 0;
  snprintf(impl, sizeof impl, "coio-%s", backend);
  /* Fixed mmap threshold, so freed memory of one repeat does not hide the
   * next repeat's growth in RSS. */
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

  REPEAT(bench_call_soon(&x));
  report("call_soon", "ns_per_callback", &a);
  REPEAT(bench_timers(&x, &y, &z));
  report("timers_random_0_50ms", "ns_per_timer", &a);
  report("timers_random_0_50ms", "bytes_per_timer", &b);
  report("timers_random_0_50ms", "peak_rss_MiB", &c);
  REPEAT(bench_future(&x));
  report("future_create_resolve_callback", "ns_per_future", &a);
  REPEAT(bench_threadsafe(&x));
  report("call_soon_threadsafe_pingpong", "wakeups_per_s", &a);
  REPEAT(bench_switch(&x));
  report("coro_switch_round_trip", "ns_per_round_trip", &a);
  REPEAT(bench_sleep0(&x));
  report("task_sleep0_round_trip", "ns_per_round_trip", &a);
  REPEAT(bench_spawn_join(&x));
  report("task_spawn_join_pooled", "ns_per_task", &a);
  REPEAT(bench_crowd(10000, &x, &y, &z));
  report("tasks_idle_10k", "bytes_per_task", &a);
  report("tasks_idle_10k", "ns_per_task", &b);
  REPEAT(bench_crowd(100000, &x, &y, &z));
  report("tasks_concurrent_100k", "ns_per_task", &b);
  report("tasks_concurrent_100k", "peak_rss_MiB", &c);
  return 0;
}
