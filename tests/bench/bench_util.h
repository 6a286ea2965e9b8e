/* tests/bench/bench_util.h - small helpers shared by the benchmark programs:
 * clocks, memory figures from /proc, CPU pinning, medians, and the one line
 * format every program prints its results in:
 *
 *   RESULT <group> <cell> <impl> <metric> <value>
 *
 * (one space-separated line per figure, no spaces inside a field), which
 * ci/bench.sh collects and tests/bench/report.py turns into the tables. */
#ifndef COIO_BENCH_UTIL_H
#define COIO_BENCH_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the whole process (every thread), ns. */
static inline uint64_t bench_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A field of /proc/self/status in bytes (VmRSS, VmHWM), or 0. */
static inline uint64_t bench_status_bytes(const char *field) {
  char line[256];
  size_t n = strlen(field);
  uint64_t kb = 0;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, field, n) == 0 && line[n] == ':') {
      kb = strtoull(line + n + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb * 1024u;
}

static inline uint64_t bench_rss(void) { return bench_status_bytes("VmRSS"); }
static inline uint64_t bench_hwm(void) { return bench_status_bytes("VmHWM"); }

/* Resets VmHWM to the current RSS (Linux 4.0+); 0 on success. */
static inline int bench_reset_hwm(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  int rc;
  if (!f)
    return -1;
  rc = fputs("5", f) < 0 ? -1 : 0;
  if (fclose(f) != 0)
    rc = -1;
  return rc;
}

/* Pins the calling thread to one CPU (cpu < 0: leaves it alone). */
static inline void bench_pin(int cpu) {
  cpu_set_t set;
  if (cpu < 0)
    return;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    fprintf(stderr, "sched_setaffinity(%d): %s (not pinned)\n", cpu, strerror(errno));
}

static inline int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of n values (sorts them in place). */
static inline double bench_median(double *v, size_t n) {
  if (n == 0)
    return 0;
  qsort(v, n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bench_result(const char *group, const char *cell, const char *impl,
                                const char *metric, double value) {
  printf("RESULT %s %s %s %s %.6g\n", group, cell, impl, metric, value);
  fflush(stdout);
}

/* A small xorshift generator: the same random timeouts for every library. */
static inline uint64_t bench_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

#endif
