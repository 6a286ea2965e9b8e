/* common/clock_posix.c - the monotonic clock and process setup on POSIX. */
#include <time.h>

#include "sys.h"

uint64_t coio__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int coio__os_init(void) { return 0; }
