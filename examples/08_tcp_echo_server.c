/* Example 8 (seed), the server: a TCP echo server with a protocol. Each
 * client's message is printed, echoed, and the client's transport closed.
 *   08_tcp_echo_server [port [max_clients]]
 * Serves on 127.0.0.1:8888 (port 0: a free port, printed) until interrupted,
 * or until max_clients connections have ended (for tests). */
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

typedef struct server_state {
  coio_loop_t *loop;
  int served, max_clients;
} server_state_t;

typedef struct client {
  server_state_t *srv;
  coio_transport_t *transport;
} client_t;

static void connection_made(coio_transport_t *t, void *user_data) {
  client_t *c = user_data;
  coio_sockaddr_t peer;
  char host[COIO_SOCKADDR_STRLEN] = "?";
  c->transport = t;
  if (coio_transport_peername(t, &peer) == 0)
    coio_sockaddr_to_string(&peer, host, sizeof host);
  printf("Connection from ('%s', %d)\n", host, coio_sockaddr_port(&peer));
  fflush(stdout);
}

static void data_received(coio_transport_t *t, const void *data, size_t len, void *user_data) {
  (void)user_data;
  printf("Data received: '%.*s'\n", (int)len, (const char *)data);
  printf("Send: '%.*s'\n", (int)len, (const char *)data);
  coio_transport_write(t, data, len);
  printf("Close the client socket\n");
  fflush(stdout);
  coio_transport_close(t);
}

static void connection_lost(coio_transport_t *t, int error, void *user_data) {
  client_t *c = user_data;
  server_state_t *srv = c->srv;
  (void)t;
  (void)error;
  free(c);
  if (srv->max_clients > 0 && ++srv->served == srv->max_clients)
    coio_loop_stop(srv->loop);
}

static const coio_protocol_t echo_server_protocol = {
    connection_made, data_received, NULL, connection_lost, NULL, NULL, NULL, NULL,
};

/* Each client connection gets a new protocol instance. */
static int make_protocol(void *factory_data, const coio_protocol_t **proto, void **user_data) {
  client_t *c = calloc(1, sizeof *c);
  if (!c)
    return COIO_ENOMEM;
  c->srv = factory_data;
  *proto = &echo_server_protocol;
  *user_data = c;
  return 0;
}

int main(int argc, char **argv) {
  coio_loop_t *loop = example_loop();
  server_state_t srv = {0, 0, 0};
  coio_future_t *f;
  coio_server_t *server;
  coio_sockaddr_t addr;
  char host[COIO_SOCKADDR_STRLEN];
  int port = argc > 1 ? atoi(argv[1]) : 8888, rc;
  srv.loop = loop;
  srv.max_clients = argc > 2 ? atoi(argv[2]) : 0;
  coio_create_server(loop, make_protocol, &srv, "127.0.0.1", port, NULL, &f);
  rc = coio_loop_run_until_complete(loop, f);
  if (rc != 0) {
    fprintf(stderr, "create_server: %s\n", coio_strerror(rc));
    return 1;
  }
  coio_future_result(f, (void **)&server);
  coio_future_unref(f);
  coio_server_sockname(server, 0, &addr);
  coio_sockaddr_to_string(&addr, host, sizeof host);
  printf("Serving on ('%s', %d)\n", host, coio_sockaddr_port(&addr));
  fflush(stdout);
  /* Serve requests until stopped (Ctrl+C ends the process). */
  coio_loop_run_forever(loop);
  coio_server_close(server);
  coio_server_free(server);
  coio_loop_free(loop);
  return 0;
}
