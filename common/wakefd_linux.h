/* common/wakefd_linux.h - the cross-thread wake-up of the Linux backends: an
 * eventfd. Both epoll and io_uring use it, so it lives in common/ (OS code,
 * not backend code); each backend watches it its own way. */
#ifndef COIO_COMMON_WAKEFD_LINUX_H
#define COIO_COMMON_WAKEFD_LINUX_H

/* A non-blocking, close-on-exec eventfd in *fd; 0 or a COIO_E* code. */
int coio__wakefd_open(int *fd);
/* Thread safe and async-signal safe: makes the eventfd readable. */
void coio__wakefd_signal(int fd);
/* Resets the counter (the eventfd is no longer readable). */
void coio__wakefd_drain(int fd);

#endif
