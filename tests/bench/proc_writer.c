/* tests/bench/proc_writer.c - the child of the pipe-throughput cells: writes
 * --bytes N bytes to stdout in 64 KiB writes, pinned to --cpu C (the other
 * core than its reader), then exits.
 *   bench_proc_writer --bytes N [--cpu C] */
#include "bench_util.h"

#include <unistd.h>

int main(int argc, char **argv) {
  static char buf[64 * 1024];
  unsigned long long total = 0, done = 0;
  int i, cpu = -1;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc)
      total = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc)
      cpu = atoi(argv[++i]);
  }
  bench_pin(cpu);
  memset(buf, 'x', sizeof buf);
  while (done < total) {
    size_t n = total - done < sizeof buf ? (size_t)(total - done) : sizeof buf;
    ssize_t w = write(1, buf, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return 1;
    }
    done += (unsigned long long)w;
  }
  return 0;
}
