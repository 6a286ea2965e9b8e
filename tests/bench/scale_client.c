/* tests/bench/scale_client.c - the scale cells, against one echo server.
 *   bench_scale_client --port P --server-pid PID [--conns N] [--window W]
 *       [--cpu C] [--impl NAME] [--quiet]
 * Reads the server's RSS (/proc/PID/status), then opens N connections
 * (10,000) as fast as it can: non-blocking connects, each sending one byte
 * once connected and done when the byte came back (so the server accepted
 * it and serves it). At most W (4,000) are under way at once, below the
 * listen backlog (net.core.somaxconn caps it at 4096), so the figure is the
 * server's accept rate, not SYN retransmission timeouts. Prints:
 *   connect_burst_10k  ms: the time from the first connect to the last echo
 *   idle_conns_10k     bytes_per_conn: the server's RSS growth per idle
 *                      connection, read once all N are open and idle (the
 *                      kernel's socket buffers are not in it)
 * then closes them all (RST: no TIME_WAIT left behind). The server should be
 * a fresh process: memory it freed before would hide the growth. This is a
 * separate process from the server: one process holds at most
 * RLIMIT_NOFILE descriptors (raised to the hard limit here). */
#include "bench_util.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static uint64_t server_rss(long pid) {
  char path[64], line[256];
  uint64_t kb = 0;
  FILE *f;
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  if (!(f = fopen(path, "r")))
    return 0;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtoull(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb * 1024u;
}

int main(int argc, char **argv) {
  int port = 0, nconns = 10000, window = 4000, cpu = -1, quiet = 0, i, ep;
  int started = 0, done = 0, active = 0;
  long pid = 0;
  const char *impl = "server";
  int *fds;
  uint64_t rss0, rss1, t0, t1;
  struct rlimit rl;
  struct sockaddr_in sa;
  struct epoll_event evs[256];
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quiet"))
      quiet = 1;
    else if (i + 1 < argc && !strcmp(argv[i], "--port"))
      port = atoi(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--server-pid"))
      pid = atol(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--conns"))
      nconns = atoi(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--window"))
      window = atoi(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--cpu"))
      cpu = atoi(argv[++i]);
    else if (i + 1 < argc && !strcmp(argv[i], "--impl"))
      impl = argv[++i];
    else {
      fprintf(stderr,
              "usage: %s --port P --server-pid PID [--conns N] [--window W] [--cpu C] "
              "[--impl NAME] [--quiet]\n",
              argv[0]);
      return 2;
    }
  }
  if (port <= 0 || pid <= 0 || nconns < 1 || window < 1)
    return fprintf(stderr, "%s: --port and --server-pid are needed\n", argv[0]), 2;
  bench_pin(cpu);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  fds = calloc((size_t)nconns, sizeof *fds);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!fds || ep < 0)
    return perror("setup"), 1;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  rss0 = server_rss(pid);
  t0 = bench_now_ns();
  while (done < nconns) {
    int n;
    while (started < nconns && active < window) {
      struct epoll_event ev;
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
      if (fd < 0)
        return perror("socket"), 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS)
        return perror("connect"), 1;
      ev.events = EPOLLOUT;
      ev.data.u64 = (uint64_t)started;
      if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        return perror("epoll_ctl"), 1;
      fds[started++] = fd;
      active++;
    }
    n = epoll_wait(ep, evs, 256, 10000);
    if (n == 0) {
      fprintf(stderr, "%s: %s: no progress in 10 s (%d of %d done)\n", argv[0], impl, done, nconns);
      return 1;
    }
    for (i = 0; i < n; i++) {
      int k = (int)evs[i].data.u64, fd = fds[k], err = 0;
      socklen_t len = sizeof err;
      char c = 'x';
      if (evs[i].events & EPOLLOUT) { /* connected: send the byte, wait for it back */
        struct epoll_event ev;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
            send(fd, &c, 1, MSG_NOSIGNAL) != 1) {
          fprintf(stderr, "%s: connection %d failed: %s\n", impl, k, strerror(err ? err : errno));
          return 1;
        }
        ev.events = EPOLLIN;
        ev.data.u64 = (uint64_t)k;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      } else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (recv(fd, &c, 1, 0) != 1) {
          fprintf(stderr, "%s: connection %d: no echo\n", impl, k);
          return 1;
        }
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
        done++;
        active--;
      }
    }
  }
  t1 = bench_now_ns();
  usleep(300 * 1000); /* let the server settle */
  rss1 = server_rss(pid);
  if (!quiet) {
    bench_result("scale", "connect_burst_10k", impl, "ms", (double)(t1 - t0) / 1e6);
    bench_result("scale", "idle_conns_10k", impl, "bytes_per_conn",
                 ((double)rss1 - (double)rss0) / (double)nconns);
  }
  for (i = 0; i < nconns; i++) {
    struct linger lg = {1, 0};
    setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fds[i]);
  }
  close(ep);
  free(fds);
  return 0;
}
