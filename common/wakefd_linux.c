/* common/wakefd_linux.c - see wakefd_linux.h. */
#include "wakefd_linux.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "error_internal.h"

int coio__wakefd_open(int *fd) {
  *fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return *fd < 0 ? coio__err_from_errno(errno) : 0;
}

void coio__wakefd_signal(int fd) {
  uint64_t one = 1;
  ssize_t n;
  /* EAGAIN means the counter is already non-zero: the loop will wake. */
  do
    n = write(fd, &one, sizeof one);
  while (n < 0 && errno == EINTR);
}

void coio__wakefd_drain(int fd) {
  uint64_t v;
  while (read(fd, &v, sizeof v) > 0)
    ;
}
