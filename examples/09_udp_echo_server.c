/* Example 9 (seed), the server: a UDP echo server with a datagram
 * protocol: every datagram is printed and sent back to its sender.
 *   09_udp_echo_server [port [max_datagrams]]
 * Serves on 127.0.0.1:9999 (port 0: a free port, printed) until
 * interrupted, or until max_datagrams were echoed (for tests). */
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

typedef struct echo_server {
  int echoed, max;
  coio_transport_t *transport; /* NULL once connection_lost ran */
} echo_server_t;

static void datagram_received(coio_transport_t *t, const void *data, size_t len,
                              const coio_sockaddr_t *addr, void *user_data) {
  echo_server_t *s = user_data;
  char host[COIO_SOCKADDR_STRLEN] = "?";
  coio_sockaddr_to_string(addr, host, sizeof host);
  printf("Received '%.*s' from ('%s', %d)\n", (int)len, (const char *)data, host,
         coio_sockaddr_port(addr));
  printf("Send '%.*s' to ('%s', %d)\n", (int)len, (const char *)data, host,
         coio_sockaddr_port(addr));
  fflush(stdout);
  coio_transport_sendto(t, data, len, addr);
  if (s->max > 0 && ++s->echoed == s->max)
    coio_transport_close(t); /* flushes the echo first */
}

static void connection_lost(coio_transport_t *t, int error, void *user_data) {
  echo_server_t *s = user_data;
  (void)error;
  s->transport = NULL; /* t must not be used after this returns */
  coio_loop_stop(coio_transport_loop(t));
}

static const coio_datagram_protocol_t echo_server_protocol = {
    NULL, datagram_received, NULL, connection_lost,
};

int main(int argc, char **argv) {
  coio_loop_t *loop = example_loop();
  echo_server_t s = {0, 0, NULL};
  coio_datagram_options_t opts = {0};
  coio_sockaddr_t local, bound;
  coio_transport_t *transport;
  coio_future_t *f;
  char host[COIO_SOCKADDR_STRLEN];
  int rc;
  s.max = argc > 2 ? atoi(argv[2]) : 0;
  printf("Starting UDP server\n");
  /* One protocol instance serves all clients' requests. */
  coio_sockaddr_from_string(&local, "127.0.0.1", argc > 1 ? atoi(argv[1]) : 9999);
  opts.local_addr = &local;
  coio_create_datagram_endpoint(loop, &echo_server_protocol, &s, &opts, &f);
  if ((rc = coio_loop_run_until_complete(loop, f)) != 0) {
    fprintf(stderr, "create_datagram_endpoint: %s\n", coio_strerror(rc));
    return 1;
  }
  coio_future_result(f, (void **)&transport);
  s.transport = transport;
  coio_future_unref(f);
  coio_transport_sockname(transport, &bound);
  coio_sockaddr_to_string(&bound, host, sizeof host);
  printf("Serving on ('%s', %d)\n", host, coio_sockaddr_port(&bound));
  fflush(stdout);
  coio_loop_run_forever(loop);
  if (s.transport) { /* stopped from outside: close, and wait for connection_lost */
    coio_transport_close(s.transport);
    coio_loop_run_forever(loop);
  }
  coio_loop_free(loop);
  return 0;
}
