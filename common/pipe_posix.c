/* common/pipe_posix.c - pipe ends on POSIX (coio_pipe_open / close), and
 * the Windows named-pipe calls, which POSIX does not have. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "coio/error.h"
#include "coio/transport.h"
#include "error_internal.h"

int coio_pipe_open(coio_pipe_t ends[2], int flags) {
  int fds[2], i;
  if (!ends || (flags & ~(COIO_PIPE_READ_BLOCKING | COIO_PIPE_WRITE_BLOCKING)))
    return COIO_EINVAL;
  /* O_CLOEXEC at creation: no window for a concurrent fork (PITFALLS 4). */
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
    return coio__err_from_errno(errno);
  for (i = 0; i < 2; i++) {
    if (flags & (i == 0 ? COIO_PIPE_READ_BLOCKING : COIO_PIPE_WRITE_BLOCKING)) {
      int fl = fcntl(fds[i], F_GETFL);
      if (fl < 0 || fcntl(fds[i], F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int rc = coio__err_from_errno(errno);
        close(fds[0]);
        close(fds[1]);
        return rc;
      }
    }
  }
  ends[0] = fds[0];
  ends[1] = fds[1];
  return 0;
}

int coio_pipe_close(coio_pipe_t end) {
  if (end < 0)
    return COIO_EBADF;
  /* Closed even on EINTR (Linux): never retried. */
  if (close(end) != 0 && errno != EINTR)
    return coio__err_from_errno(errno);
  return 0;
}

int coio_start_serving_pipe(coio_loop_t *loop, coio_protocol_factory_t factory,
                            void *factory_data, const char *name, coio_server_t **server) {
  (void)loop, (void)factory, (void)factory_data, (void)name;
  if (server)
    *server = NULL;
  return COIO_ENOTSUP; /* Windows named pipes; Unix sockets are the POSIX analogue */
}

int coio_create_pipe_connection(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                                const char *name, coio_future_t **out) {
  (void)loop, (void)proto, (void)user_data, (void)name;
  if (out)
    *out = NULL;
  return COIO_ENOTSUP;
}
