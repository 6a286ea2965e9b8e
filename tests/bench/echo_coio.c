/* tests/bench/echo_coio.c - coio's echo server with the protocol API:
 * data_received writes the bytes back. --backend epoll | io_uring. */
#include "echo_server.h"

#include <coio/coio.h>

static void data_received(coio_transport_t *t, const void *data, size_t len, void *user_data) {
  (void)user_data;
  coio_transport_write(t, data, len);
}

static const coio_protocol_t echo_protocol = {
    NULL, data_received, NULL, NULL, NULL, NULL, NULL, NULL,
};

static int factory(void *factory_data, const coio_protocol_t **proto, void **user_data) {
  (void)factory_data;
  *proto = &echo_protocol;
  *user_data = NULL;
  return 0;
}

int main(int argc, char **argv) {
  echo_args_t a;
  coio_loop_t *loop;
  coio_loop_options_t o;
  coio_server_options_t so;
  coio_future_t *f;
  int rc;
  echo_parse(argc, argv, &a);
  memset(&o, 0, sizeof o);
  o.backend = a.backend;
  rc = coio_loop_new(&loop, &o);
  if (rc != 0) {
    fprintf(stderr, "coio_loop_new(%s): %s\n", a.backend ? a.backend : "default", coio_strerror(rc));
    return 1;
  }
  /* The listening socket is made here, so no resolver thread is started. */
  memset(&so, 0, sizeof so);
  so.use_sock = 1;
  so.sock = echo_listen(&a, 1);
  so.backlog = 1024;
  rc = coio_create_server(loop, factory, NULL, NULL, 0, &so, &f);
  if (rc == 0)
    rc = coio_loop_run_until_complete(loop, f);
  if (rc != 0) {
    fprintf(stderr, "create_server: %s\n", coio_strerror(rc));
    return 1;
  }
  coio_future_unref(f);
  coio_loop_run_forever(loop);
  return 0;
}
