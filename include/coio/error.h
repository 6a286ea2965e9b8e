/* coio/error.h - portable error codes.
 *
 * Every coio function that can fail returns int: 0 (or a non-negative count
 * where documented) on success, a negative COIO_E* code otherwise. The codes
 * are the same numbers on every platform; errno, WSA errors, Win32 errors and
 * NTSTATUS values are mapped to them in one place (common/error*.c). */
#ifndef COIO_ERROR_H
#define COIO_ERROR_H

#include "platform.h"

COIO_BEGIN_DECLS

/* X(name, value, message). Values are stable: append, never renumber. */
#define COIO_ERRNO_MAP(X)                                                         \
  X(EUNKNOWN, -1, "unknown error")                                                \
  X(EINVAL, -2, "invalid argument")                                               \
  X(ENOMEM, -3, "out of memory")                                                  \
  X(ECANCELED, -4, "operation cancelled")                                         \
  X(ECLOSED, -5, "object is closed")                                              \
  X(EBUSY, -6, "resource busy (or the loop is running)")                                                 \
  X(EINVALSTATE, -7, "invalid state for this operation")                          \
  X(ENOTSUP, -8, "operation not supported by this backend")                       \
  X(ENOBACKEND, -9, "backend not available on this system")                       \
  X(ESTOPPED, -10, "loop stopped before the future completed")                    \
  X(ETIMEDOUT, -11, "operation timed out")                                        \
  X(ENOENT, -12, "no such entry")                                                 \
  X(EEXIST, -13, "already exists")                                                \
  X(EAGAIN, -14, "resource temporarily unavailable")                              \
  X(EBADF, -15, "bad file descriptor or handle")                                  \
  X(EPIPE, -16, "broken pipe")                                                    \
  X(ECONNRESET, -17, "connection reset by peer")                                  \
  X(ECONNREFUSED, -18, "connection refused")                                      \
  X(ECONNABORTED, -19, "connection aborted")                                      \
  X(EADDRINUSE, -20, "address already in use")                                    \
  X(EADDRNOTAVAIL, -21, "address not available")                                  \
  X(ENOTCONN, -22, "socket is not connected")                                     \
  X(EACCES, -23, "permission denied")                                             \
  X(EPERM, -24, "operation not permitted")                                        \
  X(EMFILE, -25, "too many open files")                                           \
  X(EINTR, -26, "interrupted system call")                                        \
  X(ENOSYS, -27, "function not implemented")                                      \
  X(EHOSTUNREACH, -28, "host is unreachable")                                     \
  X(ENETUNREACH, -29, "network is unreachable")                                   \
  X(EIO, -30, "i/o error")                                                        \
  X(EALREADY, -31, "operation already in progress")                               \
  X(EMSGSIZE, -32, "message too long")                                            \
  X(ENOSPC, -33, "no space left")                                                 \
  X(EAFNOSUPPORT, -34, "address family not supported")                            \
  X(ENOTSOCK, -35, "not a socket")                                                \
  X(ERANGE, -36, "result out of range")                                          \
  X(ENOTASK, -37, "not called from a task")                           \
  X(ESHUTDOWN, -38, "already shut down")                                          \
  X(ENONAME, -39, "name or service not known")                                  \
  X(EINCOMPLETE, -40, "incomplete read: end of stream before the expected bytes") \
  X(ELIMIT, -41, "buffer limit exceeded")                                         \
  X(ESRCH, -42, "no such process")                                                \
  X(ENOEXEC, -43, "exec format error: not an executable")                         \
  X(ETLS, -44, "TLS protocol error")                                              \
  X(ECERT, -45, "certificate verification failed")                                \
  X(ECERTEXPIRED, -46, "certificate expired or not yet valid")                   \
  X(ECERTHOST, -47, "certificate does not match the host name")                  \
  X(ETLSVERSION, -48, "no TLS protocol version or cipher in common")             \
  X(ETLSTRUNCATED, -49, "TLS connection cut without close_notify")

enum coio_errno {
#define COIO_ERR_ENUM_(name, val, msg) COIO_##name = (val),
  COIO_ERRNO_MAP(COIO_ERR_ENUM_)
#undef COIO_ERR_ENUM_
};

/* A static English message for code; "unknown error" for codes it does not
 * know, "success" for 0. Never NULL; thread safe. */
COIO_API const char *coio_strerror(int code);

/* The code's name ("COIO_EINVAL"), or "COIO_EUNKNOWN"; "0" for 0. */
COIO_API const char *coio_err_name(int code);

COIO_END_DECLS

#endif /* COIO_ERROR_H */
