/* proactor/named_pipe.c - Windows named pipes on the IOCP proactor, as
 * asyncio's windows_events does (PipeServer, IocpProactor.accept_pipe and
 * connect_pipe): coio_start_serving_pipe and coio_create_pipe_connection.
 *
 * Server: one instance at a time waits for a client with the
 * CONNECT_PIPE op (ConnectNamedPipe, overlapped; proactor.h). When a client
 * connects, that instance becomes a duplex stream transport of the core
 * (COIO__T_PIPE: READ/WRITE ops, closed with CloseHandle) and a new
 * instance takes its place. The first instance is made with
 * FILE_FLAG_FIRST_PIPE_INSTANCE, so serving a name somebody else owns
 * fails instead of sharing it; every instance has PIPE_REJECT_REMOTE_CLIENTS
 * (PITFALLS section 2; Wine matches Windows for named pipes, section 5).
 *
 * The server is a coio_server_t without listeners: its close_hook stops
 * serving. The waiting instance's op may be in flight then: its state lives
 * in its own record, freed when the op's completion arrives (cancelled),
 * never before (PITFALLS section 1: CancelIoEx is asynchronous).
 *
 * Client: CreateFileW with FILE_FLAG_OVERLAPPED; while every instance is
 * busy (ERROR_PIPE_BUSY) it retries after a back-off growing from 1 ms to
 * 100 ms (asyncio's CONNECT_PIPE_INIT_DELAY / CONNECT_PIPE_MAX_DELAY), in a
 * task, so that cancelling the future stops it. */
#include <windows.h>

#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "common/error_internal.h"
#include "common/loop_internal.h"
#include "common/transport_internal.h"
#include "proactor/proactor.h"

#define PIPE_BUF_SIZE 65536
#define CONNECT_INIT_DELAY 0.001 /* seconds */
#define CONNECT_MAX_DELAY 0.100

/* UTF-8 name -> "\\.\pipe\name" in UTF-16 (a name starting with two
 * backslashes is taken as a full pipe path). Freed by the caller. */
static wchar_t *pipe_path(const char *name, int *rc) {
  static const wchar_t prefix[] = L"\\\\.\\pipe\\";
  size_t pre = (name[0] == '\\' && name[1] == '\\') ? 0 : wcslen(prefix);
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, NULL, 0);
  wchar_t *w;
  if (n <= 1) {
    *rc = COIO_EINVAL;
    return NULL;
  }
  if (!(w = malloc((pre + (size_t)n) * sizeof *w))) {
    *rc = COIO_ENOMEM;
    return NULL;
  }
  memcpy(w, prefix, pre * sizeof *w);
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, w + pre, n);
  *rc = 0;
  return w;
}

/* ---- the server ---------------------------------------------------------------- */

typedef struct npserver {
  coio_server_t *s; /* NULL once the server closed: then only release */
  coio_loop_t *loop;
  const struct coio__proactor_ops *ops;
  void *bstate;
  wchar_t *path;
  HANDLE inst; /* the instance waiting for a client, or INVALID_HANDLE_VALUE */
  coio__op_t op;
  int busy;     /* op in flight */
  int handling; /* np_done is handing a client over: close_hook must not free */
} npserver_t;

static void np_free(npserver_t *np) {
  if (np->inst != INVALID_HANDLE_VALUE)
    CloseHandle(np->inst);
  free(np->path);
  free(np);
}

static int np_new_instance(npserver_t *np, int first) {
  DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
  HANDLE h;
  int rc;
  if (first)
    open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
  h = CreateNamedPipeW(np->path, open_mode,
                       PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
                       PIPE_UNLIMITED_INSTANCES, PIPE_BUF_SIZE, PIPE_BUF_SIZE, 0, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    DWORD e = GetLastError();
    /* ERROR_ACCESS_DENIED with FIRST_PIPE_INSTANCE: the name is taken. */
    return first && e == ERROR_ACCESS_DENIED ? COIO_EADDRINUSE : coio__err_from_win32(e);
  }
  if ((rc = np->ops->associate(np->bstate, (coio_socket_t)(uintptr_t)h)) != 0) {
    CloseHandle(h);
    return rc;
  }
  np->inst = h;
  return 0;
}

static void np_done(coio__op_t *op, long res);

static int np_arm(npserver_t *np) {
  int rc;
  memset(&np->op, 0, sizeof np->op);
  np->op.kind = COIO__OP_CONNECT_PIPE;
  np->op.fd = (coio_socket_t)(uintptr_t)np->inst;
  np->op.done = np_done;
  np->op.owner = np;
  np->op.accepted = COIO_INVALID_SOCKET;
  if ((rc = np->ops->start(np->bstate, &np->op)) != 0)
    return rc;
  np->busy = 1;
  return 0;
}

/* A connected instance becomes a transport of s (as server.c's
 * coio__server_accepted, with COIO__T_PIPE). */
static void np_accepted(coio_server_t *s, HANDLE h) {
  const coio_protocol_t *proto = NULL;
  void *ud = NULL;
  coio_transport_t *t;
  if (s->factory(s->factory_data, &proto, &ud) != 0 || coio__check_stream_protocol(proto) != 0 ||
      !(t = coio__transport_new(s->loop, (coio_socket_t)(uintptr_t)h, 0, proto, ud))) {
    CloseHandle(h); /* refused by the factory (or out of memory) */
    return;
  }
  t->flags |= COIO__T_PIPE | COIO__T_ASSOCIATED; /* np_new_instance associated it */
  t->server = s;
  coio__server_client_added(t);
  coio__transport_ref(t);
  if (coio__transport_start(t, NULL) != 0) {
    CloseHandle(h);
    t->fd = COIO_INVALID_SOCKET;
    coio__transport_fatal(t, COIO_ENOMEM);
  }
  coio__transport_unref(t);
}

/* Completion of the CONNECT_PIPE op. Until now the kernel owned the
 * OVERLAPPED in op.priv. */
static void np_done(coio__op_t *op, long res) {
  npserver_t *np = op->owner;
  HANDLE h = np->inst;
  np->busy = 0;
  if (!np->s || coio_loop_is_closed(np->loop)) {
    if (np->s)
      np->s->hook_data = NULL; /* the loop closed under a live server */
    np_free(np);
    return;
  }
  np->inst = INVALID_HANDLE_VALUE;
  np->handling = 1;
  if (res >= 0)
    np_accepted(np->s, h); /* the factory may close the server */
  else
    CloseHandle(h); /* that client went away before we saw it: serve on */
  np->handling = 0;
  if (!np->s) { /* closed from inside the factory or connection_made */
    np_free(np);
    return;
  }
  /* The next instance. If that fails the server stops accepting (nothing
   * is in flight; close_hook frees np). */
  if (np_new_instance(np, 0) == 0 && np_arm(np) != 0) {
    CloseHandle(np->inst);
    np->inst = INVALID_HANDLE_VALUE;
  }
}

static void np_close_hook(coio_server_t *s) {
  npserver_t *np = s->hook_data;
  s->hook_data = NULL;
  if (!np)
    return;
  np->s = NULL;
  if (np->busy)
    np->ops->cancel(np->bstate, &np->op); /* np_done frees np */
  else if (!np->handling)
    np_free(np);
  /* else: np_done, which is running, frees it */
}

int coio_start_serving_pipe(coio_loop_t *loop, coio_protocol_factory_t factory,
                            void *factory_data, const char *name, coio_server_t **server) {
  const struct coio__proactor_ops *ops;
  npserver_t *np;
  coio_server_t *s;
  int rc;
  if (!server)
    return COIO_EINVAL;
  *server = NULL;
  if (!loop || !factory || !name)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!(ops = coio__loop_backend_table(loop)->proactor))
    return COIO_ENOTSUP;
  if (!(np = calloc(1, sizeof *np)))
    return COIO_ENOMEM;
  np->inst = INVALID_HANDLE_VALUE;
  np->loop = loop;
  np->ops = ops;
  np->bstate = coio__loop_backend_state(loop);
  if (!(np->path = pipe_path(name, &rc)) || (rc = np_new_instance(np, 1)) != 0) {
    np_free(np);
    return rc;
  }
  if (!(s = calloc(1, sizeof *s))) {
    np_free(np);
    return COIO_ENOMEM;
  }
  s->loop = loop;
  s->factory = factory;
  s->factory_data = factory_data;
  if ((rc = np_arm(np)) != 0) {
    np_free(np);
    free(s);
    return rc;
  }
  np->s = s;
  s->close_hook = np_close_hook;
  s->hook_data = np;
  s->serving = 1;
  *server = s;
  return 0;
}

/* ---- the client ---------------------------------------------------------------- */

typedef struct npconn {
  wchar_t *path;
  const coio_protocol_t *proto;
  void *ud;
} npconn_t;

static void npconn_free(void *arg) {
  npconn_t *r = arg;
  free(r->path);
  free(r);
}

static int npconn_task(void *arg, void **result) {
  npconn_t *r = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  double delay = CONNECT_INIT_DELAY;
  HANDLE h;
  int rc;
  for (;;) {
    /* SECURITY_IDENTIFICATION: the server may identify us, not act as us. */
    h = CreateFileW(r->path, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, NULL);
    if (h != INVALID_HANDLE_VALUE)
      break;
    if (GetLastError() != ERROR_PIPE_BUSY)
      return coio__err_from_win32(GetLastError());
    if ((rc = coio_sleep(delay)) != 0)
      return rc; /* cancelled */
    delay = delay * 2 < CONNECT_MAX_DELAY ? delay * 2 : CONNECT_MAX_DELAY;
  }
  rc = coio__adopt(loop, (coio_socket_t)(uintptr_t)h, 0, COIO__T_PIPE, r->proto, r->ud, result);
  if (rc != 0 && rc != COIO_ECANCELED)
    CloseHandle(h);
  return rc;
}

int coio_create_pipe_connection(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                                const char *name, coio_future_t **out) {
  npconn_t *r;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || !name || coio__check_stream_protocol(proto) != 0)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->proactor)
    return COIO_ENOTSUP;
  if (!(r = calloc(1, sizeof *r)))
    return COIO_ENOMEM;
  if (!(r->path = pipe_path(name, &rc))) {
    free(r);
    return rc;
  }
  r->proto = proto;
  r->ud = user_data;
  return coio__spawn_req(loop, npconn_task, r, npconn_free, out);
}
