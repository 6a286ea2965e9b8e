/* tests/bench/tls_bulk.c - TLS bulk transfer over one loopback connection:
 * a server sends --bytes over TLS 1.3 with TLS_AES_128_GCM_SHA256 to a
 * blocking OpenSSL client reading 64 KiB at a time; GB/s from the end of the
 * handshake to the last byte. Server and client are threads of this
 * process, pinned to different CPUs; the client is the same for every
 * server, so the ratio compares the servers:
 *   raw          a blocking socket and SSL_write of 64 KiB chunks (what
 *                `openssl s_time`-style raw OpenSSL does)
 *   coio-BACKEND coio's TLS transport (coio/tls.h): a protocol writing 64 KiB
 *                chunks under the transport's flow control
 *   bench_tls_bulk --impl raw|coio-epoll|coio-io_uring --cert PEM --key PEM
 *                  [--bytes N] [--repeat R] [--server-cpu C] [--client-cpu C] */
#include "bench_util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <coio/coio.h>

#define CHUNK (64 * 1024)
#define SUITE "TLS_AES_128_GCM_SHA256"

static const char *impl = "raw", *cert, *key;
static unsigned long long total = 1ull << 30;
static int server_cpu = -1, client_cpu = -1;
static char chunk[CHUNK];

static void die(const char *what) {
  fprintf(stderr, "tls_bulk %s: %s\n", impl, what);
  ERR_print_errors_fp(stderr);
  exit(1);
}

/* ---- the servers: each accepts one connection on lfd, sends total bytes and
 * closes lfd ------------------------------------------------------------------ */

static void raw_server(int lfd) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  unsigned long long sent = 0;
  SSL *ssl;
  int fd;
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, SUITE) != 1 ||
      SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
    die("raw server context");
  if ((fd = accept(lfd, NULL, NULL)) < 0)
    die("accept");
  if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
    die("raw server handshake");
  while (sent < total) {
    size_t n = total - sent < CHUNK ? (size_t)(total - sent) : CHUNK;
    int w = SSL_write(ssl, chunk, (int)n);
    if (w <= 0)
      die("SSL_write");
    sent += (unsigned long long)w;
  }
  SSL_shutdown(ssl);
  SSL_free(ssl);
  close(fd);
  close(lfd);
  SSL_CTX_free(ctx);
}

typedef struct coio_sender {
  unsigned long long sent;
  int paused;
} coio_sender_t;

static void pump(coio_transport_t *t, coio_sender_t *s) {
  while (!s->paused && s->sent < total) {
    size_t n = total - s->sent < CHUNK ? (size_t)(total - s->sent) : CHUNK;
    if (coio_transport_write(t, chunk, n) != 0)
      die("coio_transport_write");
    s->sent += n; /* pause_writing may be called inside write: re-checked */
  }
  if (s->sent >= total)
    coio_transport_close(t);
}

static void c_made(coio_transport_t *t, void *ud) { pump(t, ud); }
static void c_data(coio_transport_t *t, const void *d, size_t n, void *ud) {
  (void)t, (void)d, (void)n, (void)ud;
}
static void c_lost(coio_transport_t *t, int err, void *ud) {
  (void)t, (void)ud;
  if (err)
    fprintf(stderr, "tls_bulk %s: connection lost: %s\n", impl, coio_strerror(err));
  coio_loop_stop(coio_transport_loop(t));
}
static void c_pause(coio_transport_t *t, void *ud) {
  (void)t;
  ((coio_sender_t *)ud)->paused = 1;
}
static void c_resume(coio_transport_t *t, void *ud) {
  coio_sender_t *s = ud;
  s->paused = 0;
  pump(t, s);
}
static const coio_protocol_t sender_proto = {c_made, c_data, NULL, c_lost, c_pause, c_resume,
                                             NULL, NULL};
static coio_sender_t sender;

static int sender_factory(void *fd, const coio_protocol_t **proto, void **ud) {
  (void)fd;
  *proto = &sender_proto;
  *ud = &sender;
  return 0;
}

static void coio_server(int lfd, const char *backend) {
  coio_loop_options_t o;
  coio_server_options_t so;
  coio_tls_context_t *tls;
  coio_loop_t *loop;
  coio_future_t *f;
  coio_server_t *srv = NULL;
  memset(&o, 0, sizeof o);
  o.backend = backend;
  memset(&sender, 0, sizeof sender);
  if (coio_loop_new(&loop, &o) != 0)
    die("coio_loop_new");
  if (coio_tls_context_new(COIO_TLS_SERVER, 0, &tls) != 0 ||
      coio_tls_context_load_cert_chain(tls, cert, key, NULL) != 0 ||
      coio_tls_context_set_versions(tls, COIO_TLS_1_3, 0) != 0 ||
      coio_tls_context_set_ciphers(tls, NULL, SUITE) != 0)
    die("coio TLS context");
  memset(&so, 0, sizeof so);
  so.use_sock = 1;
  so.sock = lfd;
  so.tls = tls;
  if (coio_create_server(loop, sender_factory, NULL, NULL, 0, &so, &f) != 0 ||
      coio_loop_run_until_complete(loop, f) != 0 || coio_future_result(f, (void **)&srv) != 0)
    die("coio_create_server");
  coio_future_unref(f);
  coio_loop_run_forever(loop); /* until the connection is lost */
  coio_server_close(srv);
  coio_server_free(srv);
  coio_tls_context_unref(tls);
  coio_loop_close(loop);
}

static int listen_fd;

static void *server_main(void *arg) {
  (void)arg;
  bench_pin(server_cpu);
  if (!strcmp(impl, "raw"))
    raw_server(listen_fd);
  else
    coio_server(listen_fd, impl + strlen("coio-"));
  return NULL;
}

/* ---- the client --------------------------------------------------------------- */

static double run_once(void) {
  static char buf[CHUNK];
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  pthread_t th;
  SSL_CTX *ctx;
  SSL *ssl;
  unsigned long long got = 0;
  uint64_t t0;
  int fd, one = 1;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if ((listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
      bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(listen_fd, 4) != 0 ||
      getsockname(listen_fd, (struct sockaddr *)&sa, &len) != 0)
    die("listen");
  if (pthread_create(&th, NULL, server_main, NULL) != 0)
    die("pthread_create");
  if (!(ctx = SSL_CTX_new(TLS_client_method())))
    die("client context");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* a throwaway certificate */
  if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
      connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
    die("connect");
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
    die("client handshake");
  t0 = bench_now_ns();
  while (got < total) {
    int r = SSL_read(ssl, buf, sizeof buf);
    if (r <= 0)
      die("SSL_read: connection ended early");
    got += (unsigned long long)r;
  }
  t0 = bench_now_ns() - t0;
  SSL_read(ssl, buf, sizeof buf); /* the close_notify */
  SSL_shutdown(ssl);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  pthread_join(th, NULL); /* the server closed listen_fd */
  return (double)got / (double)t0;
}

int main(int argc, char **argv) {
  double v[16];
  int i, repeats = 3;
  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--impl")) impl = argv[i + 1];
    else if (!strcmp(argv[i], "--cert")) cert = argv[i + 1];
    else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
    else if (!strcmp(argv[i], "--bytes")) total = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--repeat")) repeats = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--server-cpu")) server_cpu = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--client-cpu")) client_cpu = atoi(argv[i + 1]);
    else break;
  }
  if (i != argc || !cert || !key || repeats < 1 || repeats > 16 || total == 0 ||
      (strcmp(impl, "raw") && strncmp(impl, "coio-", 5))) {
    fprintf(stderr, "usage: %s --impl raw|coio-BACKEND --cert PEM --key PEM [--bytes N] "
                    "[--repeat R] [--server-cpu C] [--client-cpu C]\n", argv[0]);
    return 2;
  }
  if (strcmp(impl, "raw") && coio_backend_probe(impl + 5) != 0) {
    fprintf(stderr, "backend %s not available here: skipped\n", impl + 5);
    return 0;
  }
  bench_pin(client_cpu);
  memset(chunk, 'x', sizeof chunk);
  run_once(); /* warm-up */
  for (i = 0; i < repeats; i++)
    v[i] = run_once();
  bench_result("tls", "bulk_1conn", impl, "GB_per_s", bench_median(v, (size_t)repeats));
  return 0;
}
