/* Example 9 (seed), the client: sends "Hello World!" to the UDP echo
 * server, prints the reply, closes; connection_lost stops the loop.
 *   09_udp_echo_client [port]     (default 9999, on 127.0.0.1) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

typedef struct echo_client {
  const char *message;
  coio_future_t *on_con_lost; /* done when the socket is closed */
} echo_client_t;

static void connection_made(coio_transport_t *t, void *user_data) {
  echo_client_t *c = user_data;
  printf("Send: %s\n", c->message);
  coio_transport_sendto(t, c->message, strlen(c->message), NULL);
}

static void datagram_received(coio_transport_t *t, const void *data, size_t len,
                              const coio_sockaddr_t *addr, void *user_data) {
  (void)addr;
  (void)user_data;
  printf("Received: %.*s\n", (int)len, (const char *)data);
  printf("Close the socket\n");
  coio_transport_close(t);
}

static void error_received(coio_transport_t *t, int error, void *user_data) {
  (void)t;
  (void)user_data;
  printf("Error received: %s\n", coio_strerror(error));
}

static void connection_lost(coio_transport_t *t, int error, void *user_data) {
  echo_client_t *c = user_data;
  (void)t;
  (void)error;
  printf("Socket closed, stop the event loop\n");
  coio_future_set_result(c->on_con_lost, NULL, NULL);
}

static const coio_datagram_protocol_t echo_client_protocol = {
    connection_made, datagram_received, error_received, connection_lost,
};

int main(int argc, char **argv) {
  coio_loop_t *loop = example_loop();
  echo_client_t client = {"Hello World!", NULL};
  coio_datagram_options_t opts = {0};
  coio_sockaddr_t remote;
  coio_future_t *f;
  int rc;
  coio_future_new(loop, &client.on_con_lost);
  coio_sockaddr_from_string(&remote, "127.0.0.1", argc > 1 ? atoi(argv[1]) : 9999);
  opts.remote_addr = &remote;
  coio_create_datagram_endpoint(loop, &echo_client_protocol, &client, &opts, &f);
  rc = coio_loop_run_until_complete(loop, f);
  coio_future_unref(f);
  if (rc != 0) {
    fprintf(stderr, "create_datagram_endpoint: %s\n", coio_strerror(rc));
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
