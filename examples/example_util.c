/* examples/example_util.c - see example_util.h. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include "example_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int example_date_child(int argc, char **argv, const char *child[3]) {
  if (argc > 1 && strcmp(argv[1], "--print-date") == 0) {
    char now[64];
    example_now(now, sizeof now);
    printf("%s\n", now);
    return 1;
  }
  child[0] = argv[0];
#ifdef _WIN32
  { /* argv[0] may lack the directory or the .exe */
    static char self[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, self, sizeof self);
    if (n > 0 && n < sizeof self)
      child[0] = self;
  }
#endif
  child[1] = "--print-date";
  child[2] = NULL;
  return 0;
}
