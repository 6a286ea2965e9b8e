/* common/error_posix.c - errno to COIO_E*. */
#include <errno.h>

#include "error_internal.h"

int coio__err_from_errno(int err) {
  switch (err) {
  case 0:
    return 0;
  case EINVAL:
    return COIO_EINVAL;
  case ENOMEM:
  case ENOBUFS:
    return COIO_ENOMEM;
  case ECANCELED:
    return COIO_ECANCELED;
  case EBUSY:
    return COIO_EBUSY;
  case ETIMEDOUT:
    return COIO_ETIMEDOUT;
  case ENOENT:
    return COIO_ENOENT;
  case EEXIST:
    return COIO_EEXIST;
  case EAGAIN:
#if EWOULDBLOCK != EAGAIN
  case EWOULDBLOCK:
#endif
    return COIO_EAGAIN;
  case EBADF:
    return COIO_EBADF;
  case EPIPE:
    return COIO_EPIPE;
  case ECONNRESET:
    return COIO_ECONNRESET;
  case ECONNREFUSED:
    return COIO_ECONNREFUSED;
  case ECONNABORTED:
    return COIO_ECONNABORTED;
  case EADDRINUSE:
    return COIO_EADDRINUSE;
  case EADDRNOTAVAIL:
    return COIO_EADDRNOTAVAIL;
  case ENOTCONN:
    return COIO_ENOTCONN;
  case EACCES:
    return COIO_EACCES;
  case EPERM:
    return COIO_EPERM;
  case EMFILE:
  case ENFILE:
    return COIO_EMFILE;
  case EINTR:
    return COIO_EINTR;
  case ENOSYS:
    return COIO_ENOSYS;
  case EOPNOTSUPP:
#if ENOTSUP != EOPNOTSUPP
  case ENOTSUP:
#endif
    return COIO_ENOTSUP;
  case EHOSTUNREACH:
    return COIO_EHOSTUNREACH;
  case ENETUNREACH:
    return COIO_ENETUNREACH;
  case EIO:
    return COIO_EIO;
  case EALREADY:
  case EINPROGRESS:
    return COIO_EALREADY;
  case EMSGSIZE:
    return COIO_EMSGSIZE;
  case ENOSPC:
    return COIO_ENOSPC;
  case EAFNOSUPPORT:
    return COIO_EAFNOSUPPORT;
  case ENOTSOCK:
    return COIO_ENOTSOCK;
  case ERANGE:
    return COIO_ERANGE;
  case ESRCH:
    return COIO_ESRCH;
  case ENOEXEC:
    return COIO_ENOEXEC;
  case ENOTDIR: /* a path through a file: no such entry (a program or cwd) */
    return COIO_ENOENT;
  case E2BIG: /* arguments + environment too long for exec (Windows: the
                 32,767-character command line) */
    return COIO_ERANGE;
  default:
    return COIO_EUNKNOWN;
  }
}
