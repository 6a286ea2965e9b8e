/* common/pipe_transport.c - pipe transports (asyncio's connect_read_pipe /
 * connect_write_pipe), on every backend: a pipe transport is a stream
 * transport of the core (transport.c) with COIO__T_PIPE and one of
 * COIO__T_NO_WRITE (read pipe) / COIO__T_NO_READ (write pipe). The drivers
 * move its bytes with read()/write() (selector) or the READ/WRITE ops
 * (proactor: io_uring and IOCP); nothing else differs.
 *
 * SIGPIPE (PITFALLS section 4): write() on a pipe has no MSG_NOSIGNAL, and
 * blocking the signal around each write cannot work for io_uring (the write
 * runs inside io_uring_enter or on a kernel worker, not around a call of
 * ours). So the first write pipe made sets SIGPIPE to SIG_IGN, once, if
 * its disposition is still SIG_DFL (a handler or SIG_IGN the user chose is
 * left alone); a gone reader is then EPIPE -> connection_lost(COIO_EPIPE).
 * SIG_IGN survives exec: a spawner must reset SIGPIPE to SIG_DFL in its
 * children (PITFALLS 4). */
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#endif

#include "coio/error.h"
#include "error_internal.h"
#include "loop_internal.h"
#include "transport_internal.h"
#include "task_internal.h"

/* ---- connect_read_pipe / connect_write_pipe ------------------------------------------ */

#ifndef _WIN32
static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

static void ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
      sa.sa_handler == SIG_DFL) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
  }
}

/* The loop's I/O is non-blocking: the fd is made so (it is the caller's
 * fd, maybe shared with a child, so O_NONBLOCK is all that changes). */
static int set_nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0))
    return coio__err_from_errno(errno);
  return 0;
}
#endif

static int connect_pipe(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                        coio_pipe_t pipe, unsigned flags, coio_future_t **out) {
  coio_future_t *f;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || pipe == COIO_INVALID_PIPE || coio__check_stream_protocol(proto) != 0)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->driver)
    return COIO_ENOTSUP;
#ifndef _WIN32
  if ((rc = set_nonblocking(pipe)) != 0)
    return rc;
  if (flags & COIO__T_NO_READ)
    pthread_once(&sigpipe_once, ignore_sigpipe);
#endif
  if ((rc = coio_future_new(loop, &f)) != 0)
    return rc;
  /* No task needed: the transport resolves f after connection_made. */
  if ((rc = coio__transport_make(loop, COIO__FD_OF_PIPE(pipe), 0, COIO__T_PIPE | flags, proto, user_data, f)) !=
      0) {
    coio_future_unref(f);
#ifdef _WIN32
    /* IOCP: a handle without FILE_FLAG_OVERLAPPED (an anonymous pipe)
     * cannot be associated with the port (PITFALLS section 2). */
    if (rc == COIO_EINVAL || rc == COIO_EUNKNOWN)
      rc = COIO_EINVAL;
#endif
    return rc;
  }
  *out = f;
  return 0;
}

int coio_connect_read_pipe(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                           coio_pipe_t pipe, coio_future_t **out) {
  return connect_pipe(loop, proto, user_data, pipe, COIO__T_NO_WRITE, out);
}

int coio_connect_write_pipe(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                            coio_pipe_t pipe, coio_future_t **out) {
  return connect_pipe(loop, proto, user_data, pipe, COIO__T_NO_READ, out);
}
