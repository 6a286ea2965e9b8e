/* tests/bench/proc_uv.c - libuv's side of the subprocess cells (see
 * proc_args.h): uv_spawn of /bin/true with its exit callback, one child at a
 * time, and a child's stdout read through a uv_pipe_t (libuv makes it a
 * socketpair) with 64 KiB buffers. */
#include "proc_args.h"

#include <uv.h>

#define CHECK(expr)                                                                          \
  do {                                                                                       \
    int rc_ = (expr);                                                                        \
    if (rc_ < 0) {                                                                           \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, uv_strerror(rc_));       \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

static int exited;
static unsigned long long got;
static char rbuf[64 * 1024];

static void child_exited(uv_process_t *p, int64_t status, int sig) {
  if (status != 0 || sig != 0)
    fprintf(stderr, "child: status %lld signal %d\n", (long long)status, sig), exit(1);
  exited = 1;
  uv_close((uv_handle_t *)p, NULL);
}

static double spawn_wait(const proc_args_t *a, uv_loop_t *loop) {
  char *argv[] = {(char *)"/bin/true", NULL};
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  uint64_t t0 = bench_now_ns();
  int i;
  memset(&o, 0, sizeof o);
  for (i = 0; i < 3; i++) {
    stdio[i].flags = UV_INHERIT_FD;
    stdio[i].data.fd = i;
  }
  o.file = argv[0];
  o.args = argv;
  o.exit_cb = child_exited;
  o.stdio = stdio;
  o.stdio_count = 3;
  for (i = 0; i < a->spawns; i++) {
    uv_process_t p;
    exited = 0;
    CHECK(uv_spawn(loop, &p, &o));
    while (!exited)
      uv_run(loop, UV_RUN_ONCE);
    uv_run(loop, UV_RUN_NOWAIT); /* the close callback */
  }
  return (double)a->spawns * 1e9 / (double)(bench_now_ns() - t0);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)h, (void)hint;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n > 0) {
    got += (unsigned long long)n;
    return;
  }
  if (n < 0)
    uv_close((uv_handle_t *)s, NULL);
}

static double pipe_read(const proc_args_t *a, uv_loop_t *loop) {
  char bytes[32], cpu[16];
  const char *wargv[6];
  uv_stdio_container_t stdio[3];
  uv_process_options_t o;
  uv_process_t p;
  uv_pipe_t out;
  uint64_t t0;
  proc_writer_argv(a, bytes, cpu, wargv);
  CHECK(uv_pipe_init(loop, &out, 0));
  memset(&o, 0, sizeof o);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&out;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = 2;
  o.file = wargv[0];
  o.args = (char **)wargv;
  o.exit_cb = child_exited;
  o.stdio = stdio;
  o.stdio_count = 3;
  got = 0;
  exited = 0;
  t0 = bench_now_ns();
  CHECK(uv_spawn(loop, &p, &o));
  CHECK(uv_read_start((uv_stream_t *)&out, on_alloc, on_read));
  uv_run(loop, UV_RUN_DEFAULT);
  if (got != a->bytes || !exited)
    fprintf(stderr, "pipe_read: %llu of %llu bytes\n", got, a->bytes), exit(1);
  return (double)got / (double)(bench_now_ns() - t0);
}

int main(int argc, char **argv) {
  proc_args_t a;
  uv_loop_t loop;
  double v[16];
  int r;
  proc_args_parse(&a, argc, argv);
  if (a.repeats > 16)
    a.repeats = 16;
  CHECK(uv_loop_init(&loop));
  spawn_wait(&a, &loop);
  for (r = 0; r < a.repeats; r++)
    v[r] = spawn_wait(&a, &loop);
  bench_result("proc", "spawn_wait", "libuv", "spawns_per_s", bench_median(v, a.repeats));
  for (r = 0; r < a.repeats; r++)
    v[r] = pipe_read(&a, &loop);
  bench_result("proc", "pipe_read_64KiB", "libuv", "GB_per_s", bench_median(v, a.repeats));
  CHECK(uv_loop_close(&loop));
  return 0;
}
