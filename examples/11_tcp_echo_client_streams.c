/* Example 11 (seed), the client: a TCP echo client with streams
 * (open_connection): sends a message, reads the echo, closes.
 *   11_tcp_echo_client_streams [port]   (default 8888) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

typedef struct args {
  const char *message;
  int port;
} args_t;

static int tcp_echo_client(void *arg, void **result) {
  args_t *a = arg;
  coio_stream_reader_t *reader;
  coio_stream_writer_t *writer;
  char data[100];
  long n;
  int rc = coio_open_connection("127.0.0.1", a->port, NULL, &reader, &writer);
  (void)result;
  if (rc != 0) {
    fprintf(stderr, "open_connection: %s\n", coio_strerror(rc));
    return rc;
  }
  printf("Send: '%s'\n", a->message);
  coio_stream_write(writer, a->message, strlen(a->message));
  n = coio_stream_read(reader, data, sizeof data);
  if (n < 0) {
    fprintf(stderr, "read: %s\n", coio_strerror((int)n));
    n = 0;
  }
  printf("Received: '%.*s'\n", (int)n, data);
  printf("Close the socket\n");
  coio_stream_close(writer);
  coio_stream_wait_closed(writer);
  coio_stream_writer_free(writer);
  return 0;
}

int main(int argc, char **argv) {
  args_t a;
  a.message = "Hello World!";
  a.port = argc > 1 ? atoi(argv[1]) : 8888;
  /* coio_run makes a loop of the default kind (COIO_BACKEND picks another) */
  return coio_run(tcp_echo_client, &a, NULL, NULL) == 0 ? 0 : 1;
}
