/* tests/bench/proc_raw.c - the raw limits of the subprocess cells (see
 * proc_args.h): posix_spawn + waitpid, and a blocking read() loop on the
 * child's stdout, once through a pipe and once through an AF_UNIX
 * socketpair (what coio's Linux layer chooses between). */
#include "proc_args.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static double spawn_wait(const proc_args_t *a) {
  char *argv[] = {(char *)"/bin/true", NULL};
  uint64_t t0 = bench_now_ns();
  int i;
  for (i = 0; i < a->spawns; i++) {
    pid_t pid;
    int st;
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
      perror("posix_spawn"), exit(1);
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      fprintf(stderr, "spawn_wait: bad child\n"), exit(1);
  }
  return (double)a->spawns * 1e9 / (double)(bench_now_ns() - t0);
}

static double pipe_read(const proc_args_t *a, int use_socketpair) {
  static char buf[64 * 1024];
  char bytes[32], cpu[16];
  const char *wargv[6];
  int fds[2], st;
  posix_spawn_file_actions_t fa;
  unsigned long long got = 0;
  uint64_t t0;
  pid_t pid;
  proc_writer_argv(a, bytes, cpu, wargv);
  if (use_socketpair ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds)
                     : pipe2(fds, O_CLOEXEC))
    perror("pipe"), exit(1);
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  t0 = bench_now_ns();
  if (posix_spawn(&pid, wargv[0], &fa, NULL, (char **)wargv, environ) != 0)
    perror("posix_spawn"), exit(1);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (unsigned long long)n;
  }
  waitpid(pid, &st, 0);
  close(fds[0]);
  if (got != a->bytes)
    fprintf(stderr, "pipe_read: %llu of %llu bytes\n", got, a->bytes), exit(1);
  return (double)got / (double)(bench_now_ns() - t0); /* bytes per ns = GB/s */
}

int main(int argc, char **argv) {
  proc_args_t a;
  double v[16];
  int r, k;
  proc_args_parse(&a, argc, argv);
  if (a.repeats > 16)
    a.repeats = 16;
  spawn_wait(&a); /* warm-up: page cache, the dynamic loader */
  for (r = 0; r < a.repeats; r++)
    v[r] = spawn_wait(&a);
  bench_result("proc", "spawn_wait", "raw-posix_spawn", "spawns_per_s", bench_median(v, a.repeats));
  for (k = 0; k < 2; k++) {
    for (r = 0; r < a.repeats; r++)
      v[r] = pipe_read(&a, k);
    bench_result("proc", "pipe_read_64KiB", k ? "raw-socketpair" : "raw-pipe", "GB_per_s",
                 bench_median(v, a.repeats));
  }
  return 0;
}
