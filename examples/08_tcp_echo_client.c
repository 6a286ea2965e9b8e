/* Example 8 (seed), the client: sends "Hello World!" with a protocol,
 * prints what it sent and what came back, and stops the loop when the
 * server closes the connection.
 *   08_tcp_echo_client [port]     (default 8888, on 127.0.0.1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

typedef struct echo_client {
  const char *message;
  coio_future_t *on_con_lost; /* done when the server closed the connection */
} echo_client_t;

static void connection_made(coio_transport_t *t, void *user_data) {
  echo_client_t *c = user_data;
  coio_transport_write(t, c->message, strlen(c->message));
  printf("Data sent: '%s'\n", c->message);
}

static void data_received(coio_transport_t *t, const void *data, size_t len, void *user_data) {
  (void)t;
  (void)user_data;
  printf("Data received: '%.*s'\n", (int)len, (const char *)data);
}

static void connection_lost(coio_transport_t *t, int error, void *user_data) {
  echo_client_t *c = user_data;
  (void)t;
  (void)error;
  printf("The server closed the connection\n");
  printf("Stop the event loop\n");
  coio_future_set_result(c->on_con_lost, NULL, NULL);
}

static const coio_protocol_t echo_client_protocol = {
    connection_made, data_received, NULL, connection_lost, NULL, NULL, NULL, NULL,
};

int main(int argc, char **argv) {
  coio_loop_t *loop = example_loop();
  echo_client_t client = {"Hello World!", NULL};
  coio_future_t *f;
  int rc;
  coio_future_new(loop, &client.on_con_lost);
  coio_create_connection(loop, &echo_client_protocol, &client, "127.0.0.1",
                         argc > 1 ? atoi(argv[1]) : 8888, NULL, &f);
  rc = coio_loop_run_until_complete(loop, f);
  coio_future_unref(f);
  if (rc != 0) {
    fprintf(stderr, "create_connection: %s\n", coio_strerror(rc));
    return 1;
  }
  /* Wait until the protocol signals that the connection is lost. Not
   * run_forever + stop: the reply may come while the connection is still
   * being made, and that run would swallow the stop. */
  coio_loop_run_until_complete(loop, client.on_con_lost);
  coio_future_unref(client.on_con_lost);
  coio_loop_free(loop);
  return 0;
}
