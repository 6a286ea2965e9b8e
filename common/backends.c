/* common/backends.c - the table of backends this build has. The backends
 * themselves live in proactor/ and selector/; this file only names them, in
 * order of preference (CMake defines COIO_HAVE_* for what it compiled). */
#include <stddef.h>

#include "backend.h"

#ifdef COIO_HAVE_IOCP
extern const coio__backend_t coio__backend_iocp;
#endif
#ifdef COIO_HAVE_EPOLL
extern const coio__backend_t coio__backend_epoll;
#endif
#ifdef COIO_HAVE_IO_URING
extern const coio__backend_t coio__backend_uring;
#endif

const coio__backend_t *const coio__backends[] = {
#ifdef COIO_HAVE_IOCP
    &coio__backend_iocp,
#endif
#ifdef COIO_HAVE_EPOLL
    &coio__backend_epoll,
#endif
#ifdef COIO_HAVE_IO_URING
    &coio__backend_uring,
#endif
    NULL};
