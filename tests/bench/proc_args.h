/* tests/bench/proc_args.h - the command line every subprocess benchmark
 * takes, and the cells they share:
 *   spawn_wait          spawn /bin/true (stdio inherited) and wait for its
 *                       exit, one child at a time: spawns per second
 *   pipe_read_64KiB     a child (bench_proc_writer, pinned to the other core)
 *                       writes --bytes to its stdout pipe; the parent reads
 *                       it in 64 KiB reads: GB/s, wall clock
 *   PROG [--quick] [--repeat N] [--cpu C] [--other-cpu C] --writer PATH
 *        [--backend NAME] */
#ifndef COIO_BENCH_PROC_ARGS_H
#define COIO_BENCH_PROC_ARGS_H

#include "bench_util.h"

typedef struct proc_args {
  int quick, repeats, cpu, other_cpu;
  const char *writer, *backend;
  int spawns;               /* children per spawn_wait run */
  unsigned long long bytes; /* per pipe_read run */
} proc_args_t;

static inline void proc_args_parse(proc_args_t *a, int argc, char **argv) {
  int i;
  memset(a, 0, sizeof *a);
  a->repeats = 3;
  a->cpu = a->other_cpu = -1;
  a->backend = "epoll";
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0)
      a->quick = 1, a->repeats = 1;
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
      a->repeats = atoi(argv[++i]);
    else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
      a->cpu = atoi(argv[++i]);
    else if (strcmp(argv[i], "--other-cpu") == 0 && i + 1 < argc)
      a->other_cpu = atoi(argv[++i]);
    else if (strcmp(argv[i], "--writer") == 0 && i + 1 < argc)
      a->writer = argv[++i];
    else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
      a->backend = argv[++i];
    else {
      fprintf(stderr,
              "usage: %s [--quick] [--repeat N] [--cpu C] [--other-cpu C] --writer PATH "
              "[--backend NAME]\n",
              argv[0]);
      exit(2);
    }
  }
  if (!a->writer || a->repeats < 1) {
    fprintf(stderr, "%s: --writer PATH is required\n", argv[0]);
    exit(2);
  }
  a->spawns = a->quick ? 200 : 1000;
  a->bytes = a->quick ? (256ull << 20) : (1ull << 30);
  bench_pin(a->cpu);
}

/* The writer's command line: PATH --bytes N --cpu C. */
static inline void proc_writer_argv(const proc_args_t *a, char *bytes, char *cpu,
                                    const char *argv[6]) {
  snprintf(bytes, 32, "%llu", a->bytes);
  snprintf(cpu, 16, "%d", a->other_cpu);
  argv[0] = a->writer;
  argv[1] = "--bytes";
  argv[2] = bytes;
  argv[3] = "--cpu";
  argv[4] = cpu;
  argv[5] = NULL;
}

#endif
