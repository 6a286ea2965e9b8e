/* tests/bench/echo_client.c - the echo ping-pong load client.
 *   bench_echo_client --port P --conns N --size S [--inflight K]
 *       [--warmup SEC] [--duration SEC] [--repeat R] [--server-pid PID]
 *       [--cpu C] [--impl NAME] [--cell NAME]
 * Opens N connections to 127.0.0.1:P; each keeps K messages of S bytes in
 * flight, sending a new one whenever one has fully come back. One thread,
 * a level-triggered epoll loop. After the warm-up it measures R windows of
 * SEC seconds each: round trips per second, p50/p99 latency (queued to fully
 * echoed), and the server's CPU time (utime + stime from /proc/PID/stat)
 * per round trip; it prints the median of each over the windows.
 * --tls 1: every connection is TLS (OpenSSL, no certificate check: the
 * servers use a throwaway certificate), the handshake done before the
 * measurement; the figures then include the server's TLS work. */
#include "bench_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

typedef struct conn {
  int fd;
  SSL *ssl;          /* --tls 1 */
  int want_out;      /* EPOLLOUT registered */
  size_t to_send;    /* bytes queued, not yet written */
  size_t rbytes;     /* bytes of the current message received */
  uint64_t *sent_at; /* ring of K send times */
  size_t head, tail;
} conn_t;

static int use_tls;
static SSL_CTX *tls_ctx;
static int port, nconns = 1, inflight = 1, repeats = 3, cpu = -1;
static size_t msg_size = 64;
static double warmup = 0.5, duration = 2.0;
static long server_pid;
static const char *impl = "server", *cell = "cell";
static char zeros[1 << 20];
static char scratch[1 << 18];

static uint32_t *lat;
static size_t nlat, caplat;

static void add_latency(uint64_t ns) {
  if (nlat == caplat) {
    caplat = caplat ? caplat * 2 : 1 << 20;
    lat = realloc(lat, caplat * sizeof *lat);
    if (!lat)
      exit(1);
  }
  lat[nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* The server's utime + stime in seconds, or -1. */
static double server_cpu(void) {
  char path[64], buf[1024], *p;
  unsigned long ut = 0, st = 0;
  size_t n;
  int i;
  FILE *f;
  if (server_pid <= 0)
    return -1;
  snprintf(path, sizeof path, "/proc/%ld/stat", server_pid);
  if (!(f = fopen(path, "r")))
    return -1;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  if (!(p = strrchr(buf, ')')))
    return -1;
  p++; /* fields from 3 (state) on; utime is 14, stime 15 */
  for (i = 3; i <= 13; i++) {
    p = strchr(p + 1, ' ');
    if (!p)
      return -1;
  }
  if (sscanf(p, " %lu %lu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void set_out(int ep, conn_t *c, int on) {
  struct epoll_event ev;
  if (c->want_out == on)
    return;
  c->want_out = on;
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0);
  ev.data.ptr = c;
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* send / recv, plain or TLS: the count, 0 for "would block" (recv: -2 at
 * EOF); exits on errors. */
static ssize_t io_send(conn_t *c, size_t n) {
  if (c->ssl) {
    int w = SSL_write(c->ssl, zeros, (int)n), e;
    if (w > 0)
      return w;
    e = SSL_get_error(c->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
      return 0;
    fprintf(stderr, "%s: SSL_write failed (%d)\n", impl, e);
    ERR_print_errors_fp(stderr);
    exit(1);
  } else {
    ssize_t w = send(c->fd, zeros, n, MSG_NOSIGNAL);
    if (w >= 0)
      return w;
    if (errno == EAGAIN || errno == EINTR)
      return 0;
    perror("send");
    exit(1);
  }
}

static ssize_t io_recv(conn_t *c) {
  if (c->ssl) {
    int r = SSL_read(c->ssl, scratch, (int)sizeof scratch), e;
    if (r > 0)
      return r;
    e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return 0;
    fprintf(stderr, "%s: connection lost (SSL error %d)\n", impl, e);
    exit(1);
  } else {
    ssize_t r = recv(c->fd, scratch, sizeof scratch, 0);
    if (r > 0)
      return r;
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
      return 0;
    fprintf(stderr, "%s: connection lost (%s)\n", impl, r == 0 ? "EOF" : strerror(errno));
    exit(1);
  }
}

static void flush(int ep, conn_t *c) {
  while (c->to_send > 0) {
    size_t n = c->to_send < sizeof zeros ? c->to_send : sizeof zeros;
    ssize_t w = io_send(c, n);
    if (w == 0)
      break;
    c->to_send -= (size_t)w;
  }
  set_out(ep, c, c->to_send > 0);
}

static void queue_msg(conn_t *c, uint64_t now) {
  c->sent_at[c->tail++ % (size_t)inflight] = now;
  c->to_send += msg_size;
}

int main(int argc, char **argv) {
  int i, ep, w, nwin = 0;
  conn_t *conns;
  struct epoll_event evs[256];
  double *rts, *p50, *p99, *cpurt, cpu0 = 0, *cpuv;
  uint64_t t_win0 = 0, t_end, count = 0;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      goto usage;
    i++;
    if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--conns")) nconns = atoi(v);
    else if (!strcmp(a, "--size")) msg_size = (size_t)atol(v);
    else if (!strcmp(a, "--inflight")) inflight = atoi(v);
    else if (!strcmp(a, "--warmup")) warmup = atof(v);
    else if (!strcmp(a, "--duration")) duration = atof(v);
    else if (!strcmp(a, "--repeat")) repeats = atoi(v);
    else if (!strcmp(a, "--server-pid")) server_pid = atol(v);
    else if (!strcmp(a, "--cpu")) cpu = atoi(v);
    else if (!strcmp(a, "--impl")) impl = v;
    else if (!strcmp(a, "--cell")) cell = v;
    else if (!strcmp(a, "--tls")) use_tls = atoi(v);
    else goto usage;
  }
  if (port <= 0 || nconns < 1 || inflight < 1 || msg_size < 1 || repeats < 1 ||
      msg_size * (size_t)inflight > sizeof zeros)
    goto usage;
  bench_pin(cpu);
  if (use_tls) {
    tls_ctx = SSL_CTX_new(TLS_client_method());
    if (!tls_ctx)
      return 1;
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  conns = calloc((size_t)nconns, sizeof *conns);
  rts = calloc((size_t)repeats * 5, sizeof *rts);
  if (ep < 0 || !conns || !rts)
    return 1;
  p50 = rts + repeats, p99 = p50 + repeats, cpurt = p99 + repeats, cpuv = cpurt + repeats;
  for (i = 0; i < nconns; i++) {
    struct sockaddr_in sa;
    struct epoll_event ev;
    int one = 1, tries = 0;
    conn_t *c = &conns[i];
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (;;) {
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        break;
      if (++tries > 100) { /* the server may still be starting */
        perror("connect");
        return 1;
      }
      close(c->fd);
      usleep(20000);
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (use_tls) { /* the handshake, blocking, before the measurement */
      if (!(c->ssl = SSL_new(tls_ctx)) || SSL_set_fd(c->ssl, c->fd) != 1 ||
          SSL_connect(c->ssl) != 1) {
        fprintf(stderr, "%s: TLS handshake failed\n", impl);
        ERR_print_errors_fp(stderr);
        return 1;
      }
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->sent_at = calloc((size_t)inflight, sizeof *c->sent_at);
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  {
    uint64_t now = bench_now_ns();
    for (i = 0; i < nconns; i++) {
      int k;
      for (k = 0; k < inflight; k++)
        queue_msg(&conns[i], now);
      flush(ep, &conns[i]);
    }
  }
  t_end = bench_now_ns() + (uint64_t)(warmup * 1e9);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, 100);
    uint64_t now = bench_now_ns();
    if (n < 0 && errno != EINTR) {
      perror("epoll_wait");
      return 1;
    }
    for (w = 0; w < n; w++) {
      conn_t *c = evs[w].data.ptr;
      if (evs[w].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r;
        /* TLS keeps decrypted bytes of its own: read until it would block. */
        while ((r = io_recv(c)) > 0) {
          c->rbytes += (size_t)r;
          while (c->rbytes >= msg_size) {
            c->rbytes -= msg_size;
            if (t_win0) {
              add_latency(now - c->sent_at[c->head % (size_t)inflight]);
              count++;
            }
            c->head++;
            queue_msg(c, now);
          }
          if (!c->ssl)
            break;
        }
      }
      if (c->to_send > 0)
        flush(ep, c);
    }
    if (now >= t_end) {
      if (t_win0) { /* a window ends */
        double secs = (double)(now - t_win0) / 1e9, cpu1 = server_cpu();
        qsort(lat, nlat, sizeof *lat, cmp_u32);
        rts[nwin] = (double)count / secs;
        p50[nwin] = nlat ? lat[nlat / 2] / 1e3 : 0;
        p99[nwin] = nlat ? lat[(size_t)((double)nlat * 0.99)] / 1e3 : 0;
        cpurt[nwin] = count && cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) * 1e6 / (double)count : 0;
        cpuv[nwin] = cpu1 >= 0 && cpu0 >= 0 ? (cpu1 - cpu0) / secs : 0;
        if (++nwin == repeats)
          break;
      }
      count = 0;
      nlat = 0;
      cpu0 = server_cpu();
      t_win0 = bench_now_ns();
      t_end = t_win0 + (uint64_t)(duration * 1e9);
    }
  }
  bench_result("echo", cell, impl, "round_trips_per_s", bench_median(rts, (size_t)repeats));
  bench_result("echo", cell, impl, "p50_us", bench_median(p50, (size_t)repeats));
  bench_result("echo", cell, impl, "p99_us", bench_median(p99, (size_t)repeats));
  bench_result("echo", cell, impl, "server_cpu_us_per_rt", bench_median(cpurt, (size_t)repeats));
  bench_result("echo", cell, impl, "server_cpu_share", bench_median(cpuv, (size_t)repeats));
  return 0;
usage:
  fprintf(stderr, "usage: %s --port P --conns N --size S [--inflight K] [--warmup SEC] "
                  "[--duration SEC] [--repeat R] [--server-pid PID] [--cpu C] [--impl NAME] "
                  "[--cell NAME] [--tls 0|1]\n", argv[0]);
  return 2;
}
