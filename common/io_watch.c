/* common/io_watch.c - add_reader / add_writer: which callback watches which
 * fd. Shared by every backend (epoll, io_uring, IOCP's select thread); the backend
 * only hears "interest changed" and reports "ready".
 *
 * Records are kept in an open-addressing table keyed by fd and are never
 * freed before the loop is closed: a backend may still have a kernel request
 * naming a record after its watch was removed (io_uring poll), and the fd
 * space is reused densely, so the table stays small. */
#include <stdlib.h>

#include "coio/error.h"
#include "loop_internal.h"

static size_t hash_fd(coio_socket_t fd, size_t cap) {
  uint64_t x = (uint64_t)fd * 0x9E3779B97F4A7C15ull;
  return (size_t)(x >> 17) & (cap - 1);
}

static coio__io_t *lookup(coio_loop_t *loop, coio_socket_t fd) {
  size_t i;
  if (loop->io_cap == 0)
    return NULL;
  for (i = hash_fd(fd, loop->io_cap);; i = (i + 1) & (loop->io_cap - 1)) {
    coio__io_t *io = loop->io_table[i];
    if (!io)
      return NULL;
    if (io->fd == fd)
      return io;
  }
}

static int insert(coio_loop_t *loop, coio__io_t *io) {
  size_t i;
  if ((loop->io_len + 1) * 2 > loop->io_cap) {
    size_t ncap = loop->io_cap ? loop->io_cap * 2 : 64, k;
    coio__io_t **n = calloc(ncap, sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    for (k = 0; k < loop->io_cap; k++) {
      coio__io_t *old = loop->io_table[k];
      if (!old)
        continue;
      for (i = hash_fd(old->fd, ncap); n[i]; i = (i + 1) & (ncap - 1))
        ;
      n[i] = old;
    }
    free(loop->io_table);
    loop->io_table = n;
    loop->io_cap = ncap;
  }
  for (i = hash_fd(io->fd, loop->io_cap); loop->io_table[i]; i = (i + 1) & (loop->io_cap - 1))
    ;
  loop->io_table[i] = io;
  loop->io_len++;
  return 0;
}

void coio__io_free_all(coio_loop_t *loop) {
  size_t k;
  for (k = 0; k < loop->io_cap; k++)
    free(loop->io_table[k]);
  free(loop->io_table);
  loop->io_table = NULL;
  loop->io_cap = loop->io_len = 0;
}

static int check(coio_loop_t *loop, coio_socket_t fd) {
  if (!loop || fd == COIO_INVALID_SOCKET)
    return COIO_EINVAL;
#ifndef _WIN32
  if (fd < 0)
    return COIO_EINVAL;
#endif
  if (loop->closed)
    return COIO_ECLOSED;
  if (!loop->backend->io_update)
    return COIO_ENOTSUP;
  return 0;
}

static int set_watch(coio_loop_t *loop, coio_socket_t fd, unsigned which, coio_callback_t cb,
                     void *arg) {
  coio__io_t *io;
  unsigned old;
  int rc = check(loop, fd);
  if (rc)
    return rc;
  if (!cb)
    return COIO_EINVAL;
  io = lookup(loop, fd);
  if (!io) {
    io = calloc(1, sizeof *io);
    if (!io)
      return COIO_ENOMEM;
    io->fd = fd;
    if ((rc = insert(loop, io)) != 0) {
      free(io);
      return rc;
    }
  }
  old = io->interest;
  /* A replaced callback that was already queued must not run (asyncio). */
  coio_handle_cancel(loop, which == COIO__READABLE ? io->read_pending : io->write_pending);
  if (which == COIO__READABLE) {
    io->read_cb = cb;
    io->read_arg = arg;
  } else {
    io->write_cb = cb;
    io->write_arg = arg;
  }
  io->interest |= which;
  if (io->interest != old && (rc = loop->backend->io_update(loop->bstate, io, old)) != 0) {
    io->interest = old;
    if (which == COIO__READABLE)
      io->read_cb = NULL;
    else
      io->write_cb = NULL;
  }
  return rc;
}

static int clear_watch(coio_loop_t *loop, coio_socket_t fd, unsigned which) {
  coio__io_t *io;
  unsigned old;
  int rc = check(loop, fd);
  if (rc)
    return rc;
  io = lookup(loop, fd);
  if (!io || !(io->interest & which))
    return COIO_ENOENT;
  old = io->interest;
  io->interest &= ~which;
  coio_handle_cancel(loop, which == COIO__READABLE ? io->read_pending : io->write_pending);
  if (which == COIO__READABLE)
    io->read_cb = NULL;
  else
    io->write_cb = NULL;
  /* The watch is gone for the user even if the backend failed to drop it:
   * events for an fd nobody watches are ignored by coio__loop_io_ready. */
  (void)loop->backend->io_update(loop->bstate, io, old);
  return 0;
}

int coio_loop_add_reader(coio_loop_t *loop, coio_socket_t fd, coio_callback_t cb, void *user_data) {
  return set_watch(loop, fd, COIO__READABLE, cb, user_data);
}

int coio_loop_remove_reader(coio_loop_t *loop, coio_socket_t fd) {
  return clear_watch(loop, fd, COIO__READABLE);
}

int coio_loop_add_writer(coio_loop_t *loop, coio_socket_t fd, coio_callback_t cb, void *user_data) {
  return set_watch(loop, fd, COIO__WRITABLE, cb, user_data);
}

int coio_loop_remove_writer(coio_loop_t *loop, coio_socket_t fd) {
  return clear_watch(loop, fd, COIO__WRITABLE);
}

/* Queues one side's callback unless it is already queued. A failure (out of
 * memory) is not lost: level-triggered readiness reports the fd again. */
static void queue_side(coio_loop_t *loop, coio_callback_t cb, void *arg, coio_handle_t *pending) {
  if (coio__cb_pending(loop, *pending))
    return;
  if (coio__cb_schedule(loop, cb, arg, NULL, pending) != 0)
    pending->id = 0;
}

void coio__loop_io_ready(coio_loop_t *loop, coio__io_t *io, unsigned events) {
  /* Queued, not called: callbacks run in the ready batch, after the poll,
   * so stop() and slow-callback detection treat them like any other. */
  if ((events & COIO__READABLE) && (io->interest & COIO__READABLE))
    queue_side(loop, io->read_cb, io->read_arg, &io->read_pending);
  if ((events & COIO__WRITABLE) && (io->interest & COIO__WRITABLE))
    queue_side(loop, io->write_cb, io->write_arg, &io->write_pending);
}
