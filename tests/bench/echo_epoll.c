/* tests/bench/echo_epoll.c - the raw limit for readiness: a plain
 * level-triggered epoll echo server (recv, send back, EPOLLOUT only while
 * a send was short). */
#include "echo_server.h"

#include <sys/epoll.h>

typedef struct conn {
  int fd;
  char *pend; /* bytes a short send left over */
  size_t npend, cap;
} conn_t;

static char buf[1 << 16];

static void close_conn(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pend);
  free(c);
}

int main(int argc, char **argv) {
  echo_args_t a;
  int lfd, ep;
  struct epoll_event ev, evs[256];
  echo_parse(argc, argv, &a);
  lfd = echo_listen(&a, 1);
  ep = epoll_create1(EPOLL_CLOEXEC);
  ev.events = EPOLLIN;
  ev.data.ptr = NULL;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1), i;
    for (i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          c = calloc(1, sizeof *c);
          c->fd = fd;
          echo_nodelay(fd);
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->npend) { /* writable: finish the short send first */
        ssize_t w = send(c->fd, c->pend, c->npend, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) {
          close_conn(ep, c);
          continue;
        }
        if (w > 0) {
          memmove(c->pend, c->pend + w, c->npend - (size_t)w);
          c->npend -= (size_t)w;
        }
        if (c->npend == 0) {
          ev.events = EPOLLIN;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
        continue;
      }
      {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0), w;
        if (r <= 0) {
          if (r == 0 || errno != EAGAIN)
            close_conn(ep, c);
          continue;
        }
        w = send(c->fd, buf, (size_t)r, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno != EAGAIN) {
            close_conn(ep, c);
            continue;
          }
          w = 0;
        }
        if (w < r) { /* keep the rest, stop reading until it is sent */
          size_t rest = (size_t)(r - w);
          if (c->cap < rest)
            c->pend = realloc(c->pend, c->cap = rest);
          memcpy(c->pend, buf + w, rest);
          c->npend = rest;
          ev.events = EPOLLOUT;
          ev.data.ptr = c;
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
    }
  }
}
