/* common/unix_socket.c - Unix domain sockets (asyncio's
 * create_unix_connection / create_unix_server): the address helper, and the
 * two calls, which make the same stream transports and servers as TCP (the
 * drivers accept and connect any stream socket). Linux paths and abstract
 * names ('@name' or a leading NUL). Windows: COIO_ENOTSUP for now (it has
 * AF_UNIX since Windows 10 1803, but not on IOCP's AcceptEx/ConnectEx). */
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include "coio/error.h"
#include "error_internal.h"
#include "loop_internal.h"
#include "transport_internal.h"

#ifdef _WIN32

int coio_sockaddr_from_unix_n(coio_sockaddr_t *sa, const char *name, size_t len) {
  (void)name, (void)len;
  if (sa)
    memset(sa, 0, sizeof *sa);
  return COIO_EAFNOSUPPORT;
}

int coio_create_unix_connection(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                                const char *path, coio_future_t **out) {
  (void)loop, (void)proto, (void)user_data, (void)path;
  if (out)
    *out = NULL;
  return COIO_ENOTSUP;
}

int coio_create_unix_server(coio_loop_t *loop, coio_protocol_factory_t factory,
                            void *factory_data, const char *path,
                            const coio_server_options_t *opts, coio_future_t **out) {
  (void)loop, (void)factory, (void)factory_data, (void)path, (void)opts;
  if (out)
    *out = NULL;
  return COIO_ENOTSUP;
}

#else

int coio_sockaddr_from_unix_n(coio_sockaddr_t *sa, const char *name, size_t len) {
  struct sockaddr_un *un;
  int abstract;
  typedef char fits[sizeof(struct sockaddr_un) <= COIO_SOCKADDR_SIZE ? 1 : -1];
  (void)sizeof(fits);
  if (!sa)
    return COIO_EINVAL;
  memset(sa, 0, sizeof *sa);
  if (!name || len == 0)
    return COIO_EINVAL;
  un = (struct sockaddr_un *)(void *)sa->u.bytes;
  un->sun_family = AF_UNIX;
  abstract = name[0] == '\0' || name[0] == '@';
  if (abstract) {
    /* sun_path[0] = NUL, then the name's bytes, no terminator: the
     * length says where it ends (unix(7)). */
    if (len - 1 > sizeof un->sun_path - 1)
      return COIO_ERANGE;
    memcpy(un->sun_path + 1, name + 1, len - 1);
    sa->len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + len);
    return 0;
  }
  if (memchr(name, '\0', len) || len > sizeof un->sun_path - 1) {
    memset(sa, 0, sizeof *sa);
    return memchr(name, '\0', len) ? COIO_EINVAL : COIO_ERANGE;
  }
  memcpy(un->sun_path, name, len);
  sa->len = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
  return 0;
}

/* ---- create_unix_connection --------------------------------------------------------- */

typedef struct unix_conn {
  coio_sockaddr_t addr;
  const coio_protocol_t *proto;
  void *ud;
} unix_conn_t;

static int unix_connect_task(void *arg, void **result) {
  unix_conn_t *r = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  const coio__driver_t *drv = coio__loop_backend_table(loop)->driver;
  coio_socket_t fd;
  coio_future_t *f;
  int rc;
  if ((rc = coio__socket_open(COIO_AF_UNIX, COIO_SOCK_STREAM, &fd)) != 0)
    return rc;
  if ((rc = coio_future_new(loop, &f)) != 0)
    goto fail;
  if ((rc = drv->connect(loop, fd, &r->addr, f)) == 0)
    rc = coio_await(f); /* a cancel cancels f; the driver stops the attempt */
  coio_future_unref(f);
  if (rc != 0)
    goto fail;
  if ((rc = coio__adopt(loop, fd, 0, 0, r->proto, r->ud, result)) != 0 && rc != COIO_ECANCELED)
    goto fail;
  return rc;
fail:
  coio_socket_close(fd);
  return rc;
}

int coio_create_unix_connection(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                                const char *path, coio_future_t **out) {
  unix_conn_t *r;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || !path || coio__check_stream_protocol(proto) != 0)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->driver)
    return COIO_ENOTSUP;
  if (!(r = calloc(1, sizeof *r)))
    return COIO_ENOMEM;
  if ((rc = coio_sockaddr_from_unix(&r->addr, path)) != 0) {
    free(r);
    return rc;
  }
  r->proto = proto;
  r->ud = user_data;
  return coio__spawn_req(loop, unix_connect_task, r, free, out);
}

/* ---- create_unix_server -------------------------------------------------------------- */

/* asyncio removes a stale socket file before binding (only a socket: any
 * other file is left, and the bind then fails with EADDRINUSE). */
static void remove_stale(const char *path) {
  struct stat st;
  if (path[0] != '@' && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path);
}

int coio_create_unix_server(coio_loop_t *loop, coio_protocol_factory_t factory,
                            void *factory_data, const char *path,
                            const coio_server_options_t *opts, coio_future_t **out) {
  coio_sockaddr_t addr;
  coio_server_t *s = NULL;
  coio_future_t *f = NULL;
  coio_socket_t fd = COIO_INVALID_SOCKET;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || !factory || !path)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->driver)
    return COIO_ENOTSUP;
  if ((rc = coio_sockaddr_from_unix(&addr, path)) != 0)
    return rc;
  /* No resolution to wait for: everything happens now, and the future is
   * resolved at once (same shape as coio_create_server). */
  remove_stale(path);
  if ((rc = coio__socket_open(COIO_AF_UNIX, COIO_SOCK_STREAM, &fd)) != 0)
    return rc;
  if ((rc = coio__socket_bind(fd, &addr)) != 0 ||
      (rc = coio__socket_listen(fd, opts && opts->backlog > 0 ? opts->backlog : 100)) != 0)
    goto fail;
  if (!(s = calloc(1, sizeof *s)) || !(s->listeners = calloc(1, sizeof *s->listeners))) {
    rc = COIO_ENOMEM;
    goto fail;
  }
  s->loop = loop;
  s->factory = factory;
  s->factory_data = factory_data;
  s->listeners[0].fd = fd;
  s->listeners[0].addr = addr;
  s->nlisteners = 1;
  fd = COIO_INVALID_SOCKET; /* the server's now */
  if ((rc = coio_future_new(loop, &f)) != 0 ||
      (!(opts && opts->no_start) && (rc = coio_server_start(s)) != 0) ||
      (rc = coio_future_set_result(f, s, NULL)) != 0)
    goto fail;
  *out = f;
  return 0;
fail:
  if (f)
    coio_future_unref(f);
  if (fd != COIO_INVALID_SOCKET)
    coio_socket_close(fd);
  if (s)
    coio_server_free(s); /* closes the listener it took */
  return rc;
}

#endif

int coio_sockaddr_from_unix(coio_sockaddr_t *sa, const char *path) {
  return coio_sockaddr_from_unix_n(sa, path, path ? strlen(path) : 0);
}
