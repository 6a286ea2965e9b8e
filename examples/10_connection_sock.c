/* Example 10 (seed): create_connection(sock=). A protocol attached to one
 * end of a socket pair receives "abc" written to the other end, prints it
 * and closes its transport; connection_lost stops the loop. */
#include <stdio.h>

#include "example_util.h"

static void data_received(coio_transport_t *t, const void *data, size_t len, void *user_data) {
  (void)user_data;
  printf("Received: %.*s\n", (int)len, (const char *)data);
  /* We are done: close the transport (it will call connection_lost()) */
  coio_transport_close(t);
}

static void connection_lost(coio_transport_t *t, int error, void *user_data) {
  (void)error;
  (void)user_data;
  /* The socket has been closed, stop the event loop */
  coio_loop_stop(coio_transport_loop(t));
}

static const coio_protocol_t my_protocol = {
    NULL, data_received, NULL, connection_lost, NULL, NULL, NULL, NULL,
};

int main(void) {
  coio_loop_t *loop = example_loop();
  coio_socket_t pair[2];
  coio_future_t *f;
  int rc;
  /* Create a pair of connected sockets */
  if ((rc = coio_socketpair(pair)) != 0) {
    fprintf(stderr, "coio_socketpair: %s\n", coio_strerror(rc));
    return 1;
  }
  /* Register the socket to wait for data */
  coio_connect_socket(loop, &my_protocol, NULL, pair[0], &f);
  rc = coio_loop_run_until_complete(loop, f);
  coio_future_unref(f);
  if (rc != 0) {
    fprintf(stderr, "create_connection(sock=): %s\n", coio_strerror(rc));
    return 1;
  }
  /* Simulate the reception of data from the network */
  coio_socket_send(pair[1], "abc", 3);
  /* Run the event loop */
  coio_loop_run_forever(loop);
  /* We are done, close sockets and the event loop */
  coio_socket_close(pair[1]);
  coio_loop_free(loop);
  return 0;
}
