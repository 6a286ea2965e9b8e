/* tests/bench/echo_uring.c - the raw limit for completions: a plain
 * io_uring echo server with IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN
 * (falling back to no flags where the kernel refuses them). Per connection:
 * recv, send it all back (resubmitting short sends), recv again. */
#include "echo_server.h"

#include <liburing.h>

enum { OP_ACCEPT = 0, OP_RECV = 1, OP_SEND = 2 };
#define BUFSZ (1 << 16)

typedef struct conn {
  int fd;
  size_t len, off; /* bytes to send back, already sent */
  char buf[BUFSZ];
} conn_t;

static struct io_uring ring;
static int lfd;

static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *s;
  while (!(s = io_uring_get_sqe(&ring)))
    io_uring_submit(&ring);
  return s;
}

static void arm_accept(void) {
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, OP_ACCEPT);
}

static void arm_recv(conn_t *c) {
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_recv(s, c->fd, c->buf, BUFSZ, 0);
  io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)c | OP_RECV);
}

static void arm_send(conn_t *c) {
  struct io_uring_sqe *s = sqe_get();
  io_uring_prep_send(s, c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, (uint64_t)(uintptr_t)c | OP_SEND);
}

int main(int argc, char **argv) {
  echo_args_t a;
  struct io_uring_params p;
  int rc;
  echo_parse(argc, argv, &a);
  lfd = echo_listen(&a, 0);
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  p.cq_entries = 4096;
  rc = io_uring_queue_init_params(1024, &ring, &p);
  if (rc < 0) {
    fprintf(stderr, "io_uring with DEFER_TASKRUN: %s; trying without\n", strerror(-rc));
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = 4096;
    rc = io_uring_queue_init_params(1024, &ring, &p);
  }
  if (rc < 0) {
    fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-rc));
    return 1;
  }
  arm_accept();
  for (;;) {
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    rc = io_uring_submit_and_wait(&ring, 1);
    if (rc < 0 && rc != -EINTR) {
      fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-rc));
      return 1;
    }
    io_uring_for_each_cqe(&ring, head, cqe) {
      uint64_t ud = io_uring_cqe_get_data64(cqe);
      int res = cqe->res, op = (int)(ud & 3);
      conn_t *c = (conn_t *)(uintptr_t)(ud & ~(uint64_t)3);
      seen++;
      if (op == OP_ACCEPT) {
        if (res >= 0) {
          c = malloc(sizeof *c);
          c->fd = res;
          echo_nodelay(res);
          arm_recv(c);
        }
        arm_accept();
      } else if (op == OP_RECV) {
        if (res <= 0) {
          close(c->fd);
          free(c);
          continue;
        }
        c->len = (size_t)res, c->off = 0;
        arm_send(c);
      } else {
        if (res < 0) {
          close(c->fd);
          free(c);
          continue;
        }
        c->off += (size_t)res;
        if (c->off < c->len)
          arm_send(c);
        else
          arm_recv(c);
      }
    }
    io_uring_cq_advance(&ring, seen);
  }
}
