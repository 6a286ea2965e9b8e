/* examples/example_util.c - see example_util.h. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include "example_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef _WIN32
#include <windows.h>
#endif

coio_loop_t *example_loop(void) {
  coio_loop_t *loop = NULL;
  int rc = coio_loop_new(&loop, NULL);
  if (rc != 0) {
    fprintf(stderr, "coio_loop_new: %s (%s)\n", coio_strerror(rc), coio_err_name(rc));
    exit(1);
  }
  return loop;
}

void example_now(char *buf, size_t size) {
#ifdef _WIN32
  SYSTEMTIME st;
  GetLocalTime(&st);
  snprintf(buf, size, "%04u-%02u-%02u %02u:%02u:%02u.%06u", st.wYear, st.wMonth, st.wDay, st.wHour,
           st.wMinute, st.wSecond, (unsigned)st.wMilliseconds * 1000u);
#else
  struct timespec ts;
  struct tm tm;
  size_t n;
  clock_gettime(CLOCK_REALTIME, &ts);
  localtime_r(&ts.tv_sec, &tm);
  n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(buf + n, size - n, ".%06ld", (long)(ts.tv_nsec / 1000));
#endif
}

