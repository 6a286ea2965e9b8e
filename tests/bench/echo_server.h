/* tests/bench/echo_server.h - what every echo server shares: its arguments
 * (--port P [--port-file F] [--cpu C] [--backend NAME] [--mode NAME]
 * [--cert PEM --key PEM]: TLS, where the server supports it) and a listening
 * socket (port 0: a free port, written to F once listening). Each server
 * is single-threaded, echoes every byte back, and runs until killed. */
#ifndef COIO_BENCH_ECHO_SERVER_H
#define COIO_BENCH_ECHO_SERVER_H

#include "bench_util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct echo_args {
  int port, cpu;
  const char *backend, *port_file, *mode;
  const char *cert, *key; /* TLS when set */
} echo_args_t;

/* The listen backlog of every server: net.core.somaxconn caps it (4096 on
 * current kernels), and the connect-burst cell needs a deep queue. */
#define ECHO_BACKLOG 4096

static inline void echo_parse(int argc, char **argv, echo_args_t *a) {
  int i;
  a->port = 0, a->cpu = -1, a->backend = NULL, a->port_file = NULL, a->mode = NULL;
  a->cert = NULL, a->key = NULL;
  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--port"))
      a->port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--cpu"))
      a->cpu = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--backend"))
      a->backend = argv[i + 1];
    else if (!strcmp(argv[i], "--port-file"))
      a->port_file = argv[i + 1];
    else if (!strcmp(argv[i], "--mode"))
      a->mode = argv[i + 1];
    else if (!strcmp(argv[i], "--cert"))
      a->cert = argv[i + 1];
    else if (!strcmp(argv[i], "--key"))
      a->key = argv[i + 1];
    else
      break;
  }
  if (i != argc || a->port < 0 || (a->port == 0 && !a->port_file)) {
    fprintf(stderr, "usage: %s --port P [--port-file F] [--cpu C] [--backend NAME] [--mode NAME] [--cert PEM --key PEM]\n",
            argv[0]);
    exit(2);
  }
  bench_pin(a->cpu);
}

/* A listening socket on 127.0.0.1:port (SO_REUSEADDR), non-blocking if
 * asked; the port it got is written to a->port_file (written to a temporary
 * name, then renamed, so a reader never sees half of it). */
static inline int echo_listen(const echo_args_t *a, int nonblock) {
  struct sockaddr_in sa;
  socklen_t len = sizeof sa;
  int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)a->port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, ECHO_BACKLOG) != 0) {
    perror("listen");
    exit(1);
  }
  if (a->port_file && getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
    char tmp[4096];
    FILE *f;
    snprintf(tmp, sizeof tmp, "%s.tmp", a->port_file);
    if (!(f = fopen(tmp, "w")) || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) != 0 ||
        rename(tmp, a->port_file) != 0) {
      perror(a->port_file);
      exit(1);
    }
  }
  return fd;
}

static inline void echo_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

#endif
