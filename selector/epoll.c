/* selector/epoll.c - the epoll backend (Linux): readiness, level triggered.
 *
 * Traps (../shared/PITFALLS.md section 4): registrations belong to the open
 * file description, so a closed-and-reused fd may be registered or not,
 * whatever our records say: MOD falls back to ADD on ENOENT and ADD to MOD
 * on EEXIST. epoll_wait is never restarted after EINTR: we return and the
 * core recomputes the timeout. The wake-up is an eventfd, drained when seen. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/backend.h"
#include "common/error_internal.h"
#include "common/wakefd_linux.h"

extern const struct coio__driver coio__selector_driver; /* transport.c */

#define MAX_EVENTS 256

typedef struct epoll_state {
  coio_loop_t *loop;
  int epfd;
  int wakefd;
  struct epoll_event events[MAX_EVENTS];
} epoll_state_t;

static int ep_probe(void) { return 0; }

static int ep_open(coio_loop_t *loop, void **out) {
  struct epoll_event ev;
  int rc;
  epoll_state_t *s = calloc(1, sizeof *s);
  if (!s)
    return COIO_ENOMEM;
  s->loop = loop;
  s->wakefd = -1;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0 || coio__wakefd_open(&s->wakefd) != 0)
    goto fail;
  ev.events = EPOLLIN;
  ev.data.ptr = NULL; /* NULL marks the wake-up */
  if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) != 0)
    goto fail;
  *out = s;
  return 0;
fail:
  rc = coio__err_from_errno(errno);
  if (s->epfd >= 0)
    close(s->epfd);
  if (s->wakefd >= 0)
    close(s->wakefd);
  free(s);
  return rc;
}

static void ep_close(void *state) {
  epoll_state_t *s = state;
  close(s->epfd);
  close(s->wakefd);
  free(s);
}

static void ep_wake(void *state) { coio__wakefd_signal(((epoll_state_t *)state)->wakefd); }

static int ep_poll(void *state, int64_t timeout_ns) {
  epoll_state_t *s = state;
  int timeout_ms, n, i;
  if (timeout_ns < 0)
    timeout_ms = -1;
  else if (timeout_ns > (int64_t)INT32_MAX * 1000000)
    timeout_ms = INT32_MAX;
  else /* round up: a timer must never be seen as not yet due and early */
    timeout_ms = (int)((timeout_ns + 999999) / 1000000);
  n = epoll_wait(s->epfd, s->events, MAX_EVENTS, timeout_ms);
  if (n < 0)
    return errno == EINTR ? 0 : coio__err_from_errno(errno);
  for (i = 0; i < n; i++) {
    coio__io_t *io = s->events[i].data.ptr;
    uint32_t e = s->events[i].events;
    unsigned ready = 0;
    if (!io) {
      coio__wakefd_drain(s->wakefd);
      continue;
    }
    if (e & (EPOLLIN | EPOLLRDHUP | EPOLLPRI))
      ready |= COIO__READABLE;
    if (e & EPOLLOUT)
      ready |= COIO__WRITABLE;
    if (e & (EPOLLHUP | EPOLLERR)) /* wake both sides: their call sees the error */
      ready |= COIO__READABLE | COIO__WRITABLE;
    coio__loop_io_ready(s->loop, io, ready);
  }
  return 0;
}

static int ep_io_update(void *state, coio__io_t *io, unsigned old_interest) {
  epoll_state_t *s = state;
  struct epoll_event ev;
  int op, rc;
  (void)old_interest;
  ev.events = 0;
  if (io->interest & COIO__READABLE)
    ev.events |= EPOLLIN;
  if (io->interest & COIO__WRITABLE)
    ev.events |= EPOLLOUT;
  ev.data.ptr = io;
  if (io->interest == 0) {
    io->armed = 0;
    if (epoll_ctl(s->epfd, EPOLL_CTL_DEL, io->fd, &ev) != 0 && errno != ENOENT && errno != EBADF)
      return coio__err_from_errno(errno);
    return 0;
  }
  op = io->armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  rc = epoll_ctl(s->epfd, op, io->fd, &ev);
  if (rc != 0 && op == EPOLL_CTL_MOD && errno == ENOENT)
    rc = epoll_ctl(s->epfd, EPOLL_CTL_ADD, io->fd, &ev);
  else if (rc != 0 && op == EPOLL_CTL_ADD && errno == EEXIST)
    rc = epoll_ctl(s->epfd, EPOLL_CTL_MOD, io->fd, &ev);
  if (rc != 0) {
    /* EPERM: a regular file; epoll cannot watch it (asyncio refuses too). */
    return errno == EPERM ? COIO_ENOTSUP : coio__err_from_errno(errno);
  }
  io->armed = 1;
  return 0;
}

const coio__backend_t coio__backend_epoll = {
    "epoll", COIO_LOOP_SELECTOR, ep_probe, ep_open, ep_close, ep_poll, ep_wake, ep_io_update,
    &coio__selector_driver, NULL,
};
