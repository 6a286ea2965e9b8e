/* Example 13 (seed): open_connection(sock=). A task opens streams on one end
 * of a socket pair, "abc" is written to the other end (call_soon), and the
 * task waits for the data with the reader and prints it. */
#include <stdio.h>

#include "example_util.h"

static void send_abc(coio_loop_t *loop, void *arg) {
  (void)loop;
  coio_socket_send(*(coio_socket_t *)arg, "abc", 3);
}

static int wait_for_data(void *arg, void **result) {
  coio_socket_t pair[2];
  coio_stream_reader_t *reader;
  coio_stream_writer_t *writer;
  char data[100];
  long n;
  int rc;
  (void)arg;
  (void)result;
  /* Create a pair of connected sockets */
  if ((rc = coio_socketpair(pair)) != 0)
    return rc;
  /* Register the open socket to wait for data */
  if ((rc = coio_open_connection_sock(pair[0], NULL, &reader, &writer)) != 0) {
    fprintf(stderr, "open_connection(sock=): %s\n", coio_strerror(rc));
    return rc;
  }
  /* Simulate the reception of data from the network */
  coio_call_soon(coio_future_loop(coio_task_current()), send_abc, &pair[1], NULL);
  /* Wait for data */
  n = coio_stream_read(reader, data, sizeof data);
  if (n < 0)
    return (int)n;
  /* Got data, we are done: close the socket */
  printf("Received: %.*s\n", (int)n, data);
  coio_stream_close(writer);
  coio_stream_wait_closed(writer);
  coio_stream_writer_free(writer);
  /* Close the second socket */
  coio_socket_close(pair[1]);
  return 0;
}

int main(void) {
  int rc = coio_run(wait_for_data, NULL, NULL, NULL);
  if (rc != 0)
    fprintf(stderr, "%s\n", coio_strerror(rc));
  return rc == 0 ? 0 : 1;
}
