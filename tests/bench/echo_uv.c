/* tests/bench/echo_uv.c - libuv's echo server, written the usual way:
 * uv_read_start with a per-connection buffer, uv_try_write, and uv_write of
 * a copy for what a short write left. */
#include "echo_server.h"

#include <uv.h>

#define BUFSZ (1 << 16)

typedef struct conn {
  uv_tcp_t tcp;
  char buf[BUFSZ];
} conn_t;

typedef struct wreq {
  uv_write_t req;
  uv_buf_t buf;
} wreq_t;

static uv_loop_t *loop;
static uv_tcp_t server;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  conn_t *c = (conn_t *)h;
  (void)hint;
  *b = uv_buf_init(c->buf, BUFSZ);
}

static void on_close(uv_handle_t *h) { free(h); }

static void on_written(uv_write_t *req, int status) {
  wreq_t *w = (wreq_t *)req;
  (void)status;
  free(w->buf.base);
  free(w);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  uv_buf_t out;
  int w;
  if (n < 0) {
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  if (n == 0)
    return;
  out = uv_buf_init(b->base, (unsigned)n);
  w = uv_try_write(s, &out, 1);
  if (w == UV_EAGAIN)
    w = 0;
  if (w < 0) {
    uv_close((uv_handle_t *)s, on_close);
    return;
  }
  if (w < n) {
    wreq_t *r = malloc(sizeof *r);
    r->buf = uv_buf_init(malloc((size_t)(n - w)), (unsigned)(n - w));
    memcpy(r->buf.base, b->base + w, (size_t)(n - w));
    uv_write(&r->req, s, &r->buf, 1, on_written);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  conn_t *c;
  if (status < 0)
    return;
  c = malloc(sizeof *c);
  uv_tcp_init(loop, &c->tcp);
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_close);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv) {
  echo_args_t a;
  int rc;
  echo_parse(argc, argv, &a);
  loop = uv_default_loop();
  uv_tcp_init(loop, &server);
  /* The same listening socket as the other servers (uv_listen listens again). */
  rc = uv_tcp_open(&server, echo_listen(&a, 1));
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&server, ECHO_BACKLOG, on_connection);
  if (rc != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(rc));
    return 1;
  }
  return uv_run(loop, UV_RUN_DEFAULT);
}
