/* Example 11 (seed), the server: a TCP echo server with streams
 * (start_server). Each client's message is read, printed with the peer's
 * address, echoed, and the client's connection closed.
 *   11_tcp_echo_server_streams [port [max_clients]]
 * Serves on 127.0.0.1:8888 (port 0: a free port, printed) until interrupted,
 * or until max_clients clients were served (for tests). */
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

typedef struct server_state {
  coio_loop_t *loop;
  int served, max_clients;
} server_state_t;

static int handle_echo(coio_stream_reader_t *reader, coio_stream_writer_t *writer, void *arg) {
  server_state_t *srv = arg;
  char data[100];
  char host[COIO_SOCKADDR_STRLEN] = "?";
  coio_sockaddr_t addr;
  long n = coio_stream_read(reader, data, sizeof data);
  if (n < 0)
    n = 0;
  if (coio_stream_peername(writer, &addr) == 0)
    coio_sockaddr_to_string(&addr, host, sizeof host);
  printf("Received '%.*s' from ('%s', %d)\n", (int)n, data, host, coio_sockaddr_port(&addr));
  printf("Send: '%.*s'\n", (int)n, data);
  fflush(stdout);
  coio_stream_write(writer, data, (size_t)n);
  coio_stream_drain(writer);
  printf("Close the client socket\n");
  fflush(stdout);
  coio_stream_close(writer);
  if (srv->max_clients > 0 && ++srv->served == srv->max_clients) {
    coio_stream_wait_closed(writer); /* the echo is flushed before we stop */
    coio_loop_stop(srv->loop);
  }
  return 0;
}

static int wait_closed(void *server, void **result) {
  (void)result;
  return coio_server_wait_closed(server);
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
  coio_start_server(loop, handle_echo, &srv, "127.0.0.1", port, NULL, &f);
  rc = coio_loop_run_until_complete(loop, f);
  if (rc != 0) {
    fprintf(stderr, "start_server: %s\n", coio_strerror(rc));
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
  /* Close the server */
  coio_server_close(server);
  coio_task_spawn(loop, wait_closed, server, NULL, &f);
  coio_loop_run_until_complete(loop, f);
  coio_future_unref(f);
  coio_server_free(server);
  coio_loop_free(loop);
  return 0;
}
