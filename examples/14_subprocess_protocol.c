/* Example 14 (seed): a subprocess with a protocol (loop.subprocess_exec).
 * The child prints the current date; a SubprocessProtocol collects what
 * arrives on its stdout and resolves a future once the child exited and
 * its stdout is closed (process_exited may come before
 * pipe_connection_lost, so it waits for both); the parent prints
 * "Current date: ...".
 *
 * The child is this program itself, run with --print-date (the seed ran
 * Python; this works the same on Linux and Windows). */
#include <stdio.h>
#include <string.h>

#include "example_util.h"

typedef struct date_protocol {
  coio_future_t *exit_future;
  char output[256];
  size_t len;
  int pipe_closed, exited;
} date_protocol_t;

static void check_for_exit(date_protocol_t *self) {
  if (self->pipe_closed && self->exited && !coio_future_done(self->exit_future))
    coio_future_set_result(self->exit_future, NULL, NULL);
}

static void pipe_data_received(coio_subprocess_t *p, int fd, const void *data, size_t len,
                               void *user_data) {
  date_protocol_t *self = user_data;
  (void)p;
  if (fd == 1 && len < sizeof self->output - self->len) {
    memcpy(self->output + self->len, data, len);
    self->len += len;
  }
}

static void pipe_connection_lost(coio_subprocess_t *p, int fd, int error, void *user_data) {
  date_protocol_t *self = user_data;
  (void)p, (void)error;
  if (fd == 1) {
    self->pipe_closed = 1;
    check_for_exit(self);
  }
}

static void process_exited(coio_subprocess_t *p, void *user_data) {
  date_protocol_t *self = user_data;
  (void)p;
  self->exited = 1;
  check_for_exit(self);
}

static const coio_subprocess_protocol_t date_protocol = {
    NULL, pipe_data_received, pipe_connection_lost, process_exited, NULL,
};

static int get_date(void *arg, void **result) {
  const char *const *argv = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  date_protocol_t proto;
  coio_process_options_t opts;
  coio_subprocess_t *transport = NULL;
  coio_future_t *f;
  void *value = NULL;
  int rc;
  (void)result;
  memset(&proto, 0, sizeof proto);
  if ((rc = coio_future_new(loop, &proto.exit_future)) != 0)
    return rc;
  /* stdin and stderr: the parent's (asyncio's stdin=None, stderr=None) */
  memset(&opts, 0, sizeof opts);
  opts.stdio[0].kind = COIO_STDIO_INHERIT;
  opts.stdio[1].kind = COIO_STDIO_PIPE;
  opts.stdio[2].kind = COIO_STDIO_INHERIT;
  rc = coio_subprocess_exec(loop, &date_protocol, &proto, argv, &opts, &f);
  if (rc == 0) {
    rc = coio_await(f); /* connection_made has run */
    coio_future_result(f, &value);
    coio_future_unref(f);
    transport = value;
  }
  if (rc == 0)
    rc = coio_await(proto.exit_future); /* wait for the child's exit and its output */
  coio_future_unref(proto.exit_future);
  if (rc != 0) {
    fprintf(stderr, "subprocess_exec: %s\n", coio_strerror(rc));
    coio_subprocess_free(transport);
    return rc;
  }
  coio_subprocess_close(transport);
  coio_subprocess_free(transport);
  while (proto.len > 0 && (proto.output[proto.len - 1] == '\n' || proto.output[proto.len - 1] == '\r'))
    proto.len--;
  printf("Current date: %.*s\n", (int)proto.len, proto.output);
  return 0;
}

int main(int argc, char **argv) {
  const char *child[3];
  if (example_date_child(argc, argv, child))
    return 0; /* this was the child */
  return coio_run(get_date, (void *)child, NULL, NULL) == 0 ? 0 : 1;
}
