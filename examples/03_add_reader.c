/* Example 3 (seed): watch a file descriptor for read events. A reader
 * callback on one end of a socket pair receives "abc", written to the other
 * end by a call_soon callback, prints it, removes itself and stops the loop.
 * (Windows has no socketpair: coio_socketpair makes a loopback TCP pair.) */
#include <stdio.h>

#include "example_util.h"

typedef struct pair_ctx {
  coio_socket_t rsock, wsock;
} pair_ctx_t;

static void reader(coio_loop_t *loop, void *user_data) {
  pair_ctx_t *p = user_data;
  char data[100];
  long n = coio_socket_recv(p->rsock, data, sizeof data);
  if (n == COIO_EAGAIN)
    return; /* woken without data: wait for the next event */
  if (n < 0) {
    fprintf(stderr, "recv: %s\n", coio_strerror((int)n));
    n = 0;
  }
  printf("Received: %.*s\n", (int)n, data);
  /* We are done: unregister the file descriptor and stop the loop. */
  coio_loop_remove_reader(loop, p->rsock);
  coio_loop_stop(loop);
}

static void write_abc(coio_loop_t *loop, void *user_data) {
  pair_ctx_t *p = user_data;
  (void)loop;
  coio_socket_send(p->wsock, "abc", 3); /* simulates data arriving from the network */
}

int main(void) {
  coio_loop_t *loop = example_loop();
  coio_socket_t pair[2];
  pair_ctx_t p;
  int rc;
  if ((rc = coio_socketpair(pair)) != 0) {
    fprintf(stderr, "coio_socketpair: %s\n", coio_strerror(rc));
    return 1;
  }
  p.rsock = pair[0];
  p.wsock = pair[1];
  rc = coio_loop_add_reader(loop, p.rsock, reader, &p);
  if (rc != 0) {
    fprintf(stderr, "add_reader on the %s loop: %s (%s)\n", coio_loop_backend(loop),
            coio_strerror(rc), coio_err_name(rc));
    return 1;
  }
  coio_call_soon(loop, write_abc, &p, NULL);
  coio_loop_run_forever(loop);
  coio_socket_close(p.rsock);
  coio_socket_close(p.wsock);
  coio_loop_free(loop);
  return 0;
}
