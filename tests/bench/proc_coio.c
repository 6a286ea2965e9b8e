/* tests/bench/proc_coio.c - coio's side of the subprocess cells (see
 * proc_args.h), on --backend epoll | io_uring: spawn_wait with the Process
 * API (create_subprocess_exec + wait, in a task), and pipe_read twice: with
 * the protocol API (pipe_data_received counts the bytes) and with the
 * Process API (coio_stream_read into a 64 KiB buffer). */
#include "proc_args.h"

#include <coio/coio.h>

#define CHECK(expr)                                                                          \
  do {                                                                                       \
    int rc_ = (expr);                                                                        \
    if (rc_ != 0) {                                                                          \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, coio_strerror(rc_));     \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

static proc_args_t a;
static double result;

static int spawn_wait(void *arg, void **res) {
  const char *argv[] = {"/bin/true", NULL};
  uint64_t t0 = bench_now_ns();
  int i;
  (void)arg, (void)res;
  for (i = 0; i < a.spawns; i++) {
    coio_process_t *p;
    int code = -1;
    CHECK(coio_create_subprocess_exec(argv, NULL, &p));
    CHECK(coio_process_wait(p, &code));
    if (code != 0)
      fprintf(stderr, "spawn_wait: exit %d\n", code), exit(1);
    coio_process_free(p);
  }
  result = (double)a.spawns * 1e9 / (double)(bench_now_ns() - t0);
  return 0;
}

static int pipe_read_streams(void *arg, void **res) {
  static char buf[64 * 1024];
  char bytes[32], cpu[16];
  const char *wargv[6];
  coio_process_options_t o;
  coio_process_t *p;
  unsigned long long got = 0;
  uint64_t t0;
  int code = -1;
  (void)arg, (void)res;
  proc_writer_argv(&a, bytes, cpu, wargv);
  memset(&o, 0, sizeof o);
  o.stdio[0].kind = COIO_STDIO_DEVNULL;
  o.stdio[1].kind = COIO_STDIO_PIPE;
  o.stdio[2].kind = COIO_STDIO_INHERIT;
  t0 = bench_now_ns();
  CHECK(coio_create_subprocess_exec(wargv, &o, &p));
  for (;;) {
    long n = coio_stream_read(coio_process_stdout(p), buf, sizeof buf);
    if (n < 0)
      fprintf(stderr, "read: %s\n", coio_strerror((int)n)), exit(1);
    if (n == 0)
      break;
    got += (unsigned long long)n;
  }
  CHECK(coio_process_wait(p, &code));
  coio_process_free(p);
  if (got != a.bytes || code != 0)
    fprintf(stderr, "pipe_read: %llu of %llu bytes, exit %d\n", got, a.bytes, code), exit(1);
  result = (double)got / (double)(bench_now_ns() - t0);
  return 0;
}

/* The protocol API, outside tasks. */
static unsigned long long proto_got;

static void p_data(coio_subprocess_t *p, int fd, const void *data, size_t len, void *ud) {
  (void)p, (void)fd, (void)data, (void)ud;
  proto_got += len;
}

static void p_lost(coio_subprocess_t *p, int error, void *ud) {
  (void)error;
  coio_loop_stop((coio_loop_t *)ud);
  (void)p;
}

static const coio_subprocess_protocol_t proto = {NULL, p_data, NULL, NULL, p_lost};

static double pipe_read_protocol(coio_loop_t *loop) {
  char bytes[32], cpu[16];
  const char *wargv[6];
  coio_process_options_t o;
  coio_subprocess_t *p;
  coio_future_t *f;
  uint64_t t0;
  int code = -1;
  proc_writer_argv(&a, bytes, cpu, wargv);
  memset(&o, 0, sizeof o);
  o.stdio[0].kind = COIO_STDIO_DEVNULL;
  o.stdio[1].kind = COIO_STDIO_PIPE;
  o.stdio[2].kind = COIO_STDIO_INHERIT;
  proto_got = 0;
  t0 = bench_now_ns();
  CHECK(coio_subprocess_exec(loop, &proto, loop, wargv, &o, &f));
  CHECK(coio_loop_run_forever(loop));
  CHECK(coio_future_result(f, (void **)&p));
  coio_future_unref(f);
  if (coio_subprocess_returncode(p, &code) != 0 || code != 0 || proto_got != a.bytes)
    fprintf(stderr, "pipe_read: %llu of %llu bytes, exit %d\n", proto_got, a.bytes, code),
        exit(1);
  coio_subprocess_free(p);
  return (double)proto_got / (double)(bench_now_ns() - t0);
}

static double run_task(coio_task_fn fn) {
  coio_loop_options_t o;
  memset(&o, 0, sizeof o);
  o.backend = a.backend;
  CHECK(coio_run(fn, NULL, &o, NULL));
  return result;
}

int main(int argc, char **argv) {
  char impl[64], simpl[64];
  coio_loop_options_t o;
  coio_loop_t *loop;
  double v[16];
  int r;
  proc_args_parse(&a, argc, argv);
  if (a.repeats > 16)
    a.repeats = 16;
  if (coio_backend_probe(a.backend) != 0) {
    fprintf(stderr, "backend %s not available here: skipped\n", a.backend);
    return 0;
  }
  snprintf(impl, sizeof impl, "coio-%s", a.backend);
  snprintf(simpl, sizeof simpl, "coio-streams-%s", a.backend);
  run_task(spawn_wait); /* warm-up */
  for (r = 0; r < a.repeats; r++)
    v[r] = run_task(spawn_wait);
  bench_result("proc", "spawn_wait", impl, "spawns_per_s", bench_median(v, a.repeats));
  memset(&o, 0, sizeof o);
  o.backend = a.backend;
  CHECK(coio_loop_new(&loop, &o));
  for (r = 0; r < a.repeats; r++)
    v[r] = pipe_read_protocol(loop);
  coio_loop_close(loop);
  bench_result("proc", "pipe_read_64KiB", impl, "GB_per_s", bench_median(v, a.repeats));
  for (r = 0; r < a.repeats; r++)
    v[r] = run_task(pipe_read_streams);
  bench_result("proc", "pipe_read_64KiB", simpl, "GB_per_s", bench_median(v, a.repeats));
  return 0;
}
