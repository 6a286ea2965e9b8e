/* tests/proc_child.c - the child program of tests/test_process.c: one
 * portable program (Linux and mingw-w64 / Wine) whose mode is argv[1]:
 *
 *   cat                   stdin to stdout, 1 MiB at a time, until EOF
 *   exit N                exits with status N
 *   print-env NAME        prints NAME's value, or "<unset>"
 *   print-cwd             prints the working directory
 *   list-fds              prints the open descriptors, one per line (Linux;
 *                         "unsupported" elsewhere)
 *   close-stdout          closes stdout, then waits for EOF on stdin
 *   spawn-grandchild      starts itself as "hold" (which inherits stdin and
 *                         stdout), prints "spawned <pid>" and exits at once;
 *                         the grandchild keeps stdout open until EOF on stdin
 *   hold                  reads stdin to EOF, prints "grandchild done", exits
 *   sleep-stdin           reads stdin to EOF, then exits 0
 *   write N               writes N bytes of the pattern (see pattern_byte)
 *   echo ARGS...          prints each argument on a line of its own
 *   out-err               prints "out" to stdout, then "err" to stderr
 *   ids                   POSIX: prints "pid pgid sid" (for NEW_GROUP/SESSION)
 *   signals               POSIX: prints "mask=<0|1> sigpipe=<dfl|ign|other>"
 *                         (1: some signal is blocked)
 *
 * Whatever waits for stdin's EOF is bounded: POSIX alarm(60), so a test
 * that goes wrong cannot leave it behind for long. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <direct.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
#include <windows.h>
#else
#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#endif

#define BUF (1024 * 1024)

/* The pattern shared with the test: byte i of a stream. */
static unsigned char pattern_byte(uint64_t i) {
  uint64_t w = (i >> 3) * UINT64_C(0x9E3779B97F4A7C15);
  return (unsigned char)(w >> ((i & 7) * 8));
}

static void bound(void) {
#ifndef _WIN32
  alarm(60);
#endif
}

static void binary_mode(void) {
#ifdef _WIN32
  _setmode(_fileno(stdin), _O_BINARY);
  _setmode(_fileno(stdout), _O_BINARY);
#endif
}

static void drain_stdin(void) {
  static char buf[65536];
  bound();
  while (fread(buf, 1, sizeof buf, stdin) > 0) {
  }
}

static int do_cat(void) {
  char *buf = malloc(BUF);
  size_t n;
  if (!buf)
    return 3;
  binary_mode();
  setvbuf(stdout, NULL, _IONBF, 0);
  while ((n = fread(buf, 1, BUF, stdin)) > 0)
    if (fwrite(buf, 1, n, stdout) != n)
      return 4;
  free(buf);
  return 0;
}

static int do_write(uint64_t total) {
  unsigned char *buf = malloc(BUF);
  uint64_t pos = 0;
  if (!buf)
    return 3;
  binary_mode();
  setvbuf(stdout, NULL, _IONBF, 0);
  while (pos < total) {
    size_t n = total - pos < BUF ? (size_t)(total - pos) : BUF, i;
    for (i = 0; i < n; i++)
      buf[i] = pattern_byte(pos + i);
    if (fwrite(buf, 1, n, stdout) != n)
      return 4;
    pos += n;
  }
  free(buf);
  return 0;
}

static int do_list_fds(void) {
#ifdef __linux__
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int self;
  if (!d)
    return 3;
  self = dirfd(d);
  while ((e = readdir(d)) != NULL) {
    int fd;
    if (e->d_name[0] == '.')
      continue;
    fd = atoi(e->d_name);
    if (fd != self)
      printf("%d\n", fd);
  }
  closedir(d);
#else
  printf("unsupported\n");
#endif
  return 0;
}

static int do_spawn_grandchild(const char *self) {
#ifdef _WIN32
  intptr_t h = _spawnl(_P_NOWAIT, self, self, "hold", NULL);
  if (h == -1)
    return 3;
  printf("spawned %lu\n", (unsigned long)GetProcessId((HANDLE)h));
#else
  pid_t pid;
  fflush(stdout);
  pid = fork();
  if (pid < 0)
    return 3;
  if (pid == 0) {
    execl(self, self, "hold", (char *)NULL);
    _exit(127);
  }
  printf("spawned %ld\n", (long)pid);
#endif
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "cat") == 0)
    return do_cat();
  if (strcmp(mode, "exit") == 0 && argc > 2)
    return atoi(argv[2]);
  if (strcmp(mode, "print-env") == 0 && argc > 2) {
    const char *v = getenv(argv[2]);
    printf("%s\n", v ? v : "<unset>");
    return 0;
  }
  if (strcmp(mode, "print-cwd") == 0) {
    char buf[4096];
#ifdef _WIN32
    if (!_getcwd(buf, sizeof buf))
#else
    if (!getcwd(buf, sizeof buf))
#endif
      return 3;
    printf("%s\n", buf);
    return 0;
  }
  if (strcmp(mode, "list-fds") == 0)
    return do_list_fds();
  if (strcmp(mode, "close-stdout") == 0) {
    fclose(stdout);
#ifndef _WIN32
    close(1);
#endif
    drain_stdin();
    return 0;
  }
  if (strcmp(mode, "spawn-grandchild") == 0)
    return do_spawn_grandchild(argv[0]);
  if (strcmp(mode, "hold") == 0) {
    drain_stdin();
    printf("grandchild done\n");
    return 0;
  }
  if (strcmp(mode, "sleep-stdin") == 0) {
    drain_stdin();
    return 0;
  }
  if (strcmp(mode, "write") == 0 && argc > 2)
    return do_write(strtoull(argv[2], NULL, 10));
  if (strcmp(mode, "echo") == 0) {
    int i;
    for (i = 2; i < argc; i++)
      printf("%s\n", argv[i]);
    return 0;
  }
  if (strcmp(mode, "out-err") == 0) {
    printf("out\n");
    fflush(stdout);
    fprintf(stderr, "err\n");
    return 0;
  }
#ifndef _WIN32
  if (strcmp(mode, "ids") == 0) {
    printf("%ld %ld %ld\n", (long)getpid(), (long)getpgrp(), (long)getsid(0));
    return 0;
  }
  if (strcmp(mode, "signals") == 0) {
    sigset_t cur;
    struct sigaction sa;
    int s, blocked = 0;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    for (s = 1; s < 32; s++)
      if (sigismember(&cur, s) == 1)
        blocked = 1;
    sigaction(SIGPIPE, NULL, &sa);
    printf("mask=%d sigpipe=%s\n", blocked,
           sa.sa_handler == SIG_DFL ? "dfl" : sa.sa_handler == SIG_IGN ? "ign" : "other");
    return 0;
  }
#endif
  fprintf(stderr, "proc_child: unknown mode '%s'\n", mode);
  return 2;
}
