/* tests/bench/echo_coio.c - coio's echo servers. --backend epoll | io_uring;
 * --mode:
 *   protocol  the protocol API: data_received writes the bytes back (default)
 *   streams   the streams API: coio_start_server, one handler task per
 *             connection doing read / write / drain
 *   sock      tasks with the low-level socket calls: an accept task
 *             (coio_sock_accept) spawning one task per connection doing
 *             coio_sock_recv / coio_sock_sendall
 * --cert/--key: TLS (coio/tls.h) for the protocol and streams servers. */
#include "echo_server.h"

#include <coio/coio.h>

/* What a task reads at a time: on the task's own stack, as user code would. */
#define TASK_BUFSZ (16 * 1024)

/* ---- protocol API ------------------------------------------------------------ */
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

/* ---- streams API --------------------------------------------------------------- */
static int stream_handler(coio_stream_reader_t *r, coio_stream_writer_t *w, void *data) {
  char buf[TASK_BUFSZ];
  (void)data;
  for (;;) {
    long n = coio_stream_read(r, buf, sizeof buf);
    if (n <= 0)
      return 0;
    if (coio_stream_write(w, buf, (size_t)n) != 0 || coio_stream_drain(w) != 0)
      return 0;
  }
}

/* ---- tasks + sock_* -------------------------------------------------------------- */
static int sock_conn(void *arg, void **result) {
  coio_socket_t s = (coio_socket_t)(intptr_t)arg;
  char buf[TASK_BUFSZ];
  (void)result;
  for (;;) {
    long n = coio_sock_recv(s, buf, sizeof buf);
    if (n <= 0 || coio_sock_sendall(s, buf, (size_t)n) != 0)
      break;
  }
  coio_socket_close(s);
  return 0;
}

static int sock_acceptor(void *arg, void **result) {
  coio_socket_t listener = (coio_socket_t)(intptr_t)arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  (void)result;
  for (;;) {
    coio_socket_t s;
    int rc = coio_sock_accept(listener, &s, NULL);
    if (rc == COIO_ECANCELED)
      return rc;
    if (rc != 0)
      continue; /* EMFILE, ECONNABORTED...: keep serving */
    if (coio_task_spawn(loop, sock_conn, (void *)(intptr_t)s, NULL, NULL) != 0)
      coio_socket_close(s);
  }
}

int main(int argc, char **argv) {
  echo_args_t a;
  coio_loop_t *loop;
  coio_loop_options_t o;
  coio_server_options_t so;
  coio_future_t *f = NULL;
  const char *mode;
  int rc;
  echo_parse(argc, argv, &a);
  mode = a.mode ? a.mode : "protocol";
  memset(&o, 0, sizeof o);
  o.backend = a.backend;
  rc = coio_loop_new(&loop, &o);
  if (rc != 0) {
    fprintf(stderr, "coio_loop_new(%s): %s\n", a.backend ? a.backend : "default",
            coio_strerror(rc));
    return 1;
  }
  /* The listening socket is made here, so no resolver thread is started. */
  memset(&so, 0, sizeof so);
  so.use_sock = 1;
  so.sock = echo_listen(&a, 1);
  so.backlog = ECHO_BACKLOG;
  if (a.cert) {
    coio_tls_context_t *tls;
    if ((rc = coio_tls_context_new(COIO_TLS_SERVER, 0, &tls)) != 0 ||
        (rc = coio_tls_context_load_cert_chain(tls, a.cert, a.key, NULL)) != 0) {
      fprintf(stderr, "TLS context: %s\n", coio_strerror(rc));
      return 1;
    }
    so.tls = tls; /* the server holds it for the process's life */
  }
  if (!strcmp(mode, "protocol")) {
    rc = coio_create_server(loop, factory, NULL, NULL, 0, &so, &f);
  } else if (!strcmp(mode, "streams")) {
    coio_stream_options_t sto;
    memset(&sto, 0, sizeof sto);
    sto.server = &so;
    rc = coio_start_server(loop, stream_handler, NULL, NULL, 0, &sto, &f);
  } else if (!strcmp(mode, "sock")) {
    rc = coio_task_spawn(loop, sock_acceptor, (void *)(intptr_t)so.sock, NULL, NULL);
  } else {
    fprintf(stderr, "--mode: protocol, streams or sock (not %s)\n", mode);
    return 2;
  }
  if (rc == 0 && f)
    rc = coio_loop_run_until_complete(loop, f);
  if (rc != 0) {
    fprintf(stderr, "%s server: %s\n", mode, coio_strerror(rc));
    return 1;
  }
  if (f)
    coio_future_unref(f);
  coio_loop_run_forever(loop);
  return 0;
}
