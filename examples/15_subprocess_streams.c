/* Example 15 (seed): a subprocess with streams
 * (asyncio.create_subprocess_exec). The child prints the current date on
 * its stdout, which is piped; the parent reads one line from it, waits for
 * the child to exit and prints "Current date: ...".
 *
 * The child is this program itself, run with --print-date (the seed ran
 * Python; this works the same on Linux and Windows). */
#include <stdio.h>
#include <string.h>

#include "example_util.h"

static int get_date(void *arg, void **result) {
  const char *const *argv = arg;
  coio_process_options_t opts;
  coio_process_t *proc;
  char line[128];
  long n;
  int rc, code = 0;
  (void)result;
  /* Create the subprocess; redirect the standard output into a pipe. */
  memset(&opts, 0, sizeof opts);
  opts.stdio[1].kind = COIO_STDIO_PIPE;
  if ((rc = coio_create_subprocess_exec(argv, &opts, &proc)) != 0) {
    fprintf(stderr, "create_subprocess_exec: %s\n", coio_strerror(rc));
    return rc;
  }
  /* Read one line of output. */
  n = coio_stream_readline(coio_process_stdout(proc), line, sizeof line);
  if (n < 0) {
    fprintf(stderr, "readline: %s\n", coio_strerror((int)n));
    n = 0;
  }
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  /* Wait for the subprocess exit. */
  rc = coio_process_wait(proc, &code);
  coio_process_free(proc);
  if (rc != 0 || code != 0) {
    fprintf(stderr, "wait: %s, exit code %d\n", coio_strerror(rc), code);
    return rc ? rc : COIO_EUNKNOWN;
  }
  printf("Current date: %.*s\n", (int)n, line);
  return 0;
}

int main(int argc, char **argv) {
  const char *child[3];
  if (example_date_child(argc, argv, child))
    return 0; /* this was the child */
  return coio_run(get_date, (void *)child, NULL, NULL) == 0 ? 0 : 1;
}
