/* common/connect.c - making transports: create_connection (resolve, then
 * try each address in turn), connect_socket (an existing socket) and
 * create_datagram_endpoint. Each is an internal task, so the sequence
 * reads as it runs; the task is the future handed to the caller (a task is
 * a future), so cancelling that future stops the attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coio/dns.h"
#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"
#include "tls_internal.h"
#include "transport_internal.h"


int coio__check_stream_protocol(const coio_protocol_t *p) {
  if (!p || (!p->data_received && !(p->get_buffer && p->buffer_updated)))
    return COIO_EINVAL;
  return 0;
}

int coio__transport_make(coio_loop_t *loop, coio_socket_t fd, int datagram, unsigned flags,
                         const void *proto, void *user_data, coio_future_t *waiter) {
  coio_transport_t *t = coio__transport_new(loop, fd, datagram, proto, user_data);
  if (!t)
    return COIO_ENOMEM;
  t->flags |= flags;
  if (flags & COIO__T_NO_READ)
    t->flags &= ~COIO__T_READING; /* a write pipe never reads */
  return coio__transport_start(t, waiter);
}

int coio__await_started(coio_future_t *waiter, void **result) {
  /* If this task is cancelled now, the transport still starts; asyncio
   * likewise leaves it to the protocol. */
  int rc = coio_await(waiter);
  if (rc == 0)
    coio_future_result(waiter, result);
  coio_future_unref(waiter);
  return rc == COIO_ECANCELED ? rc : 0;
}

int coio__adopt(coio_loop_t *loop, coio_socket_t fd, int datagram, unsigned flags,
                const void *proto, void *user_data, void **result) {
  coio_future_t *waiter;
  int rc;
  if ((rc = coio_future_new(loop, &waiter)) != 0)
    return rc;
  if ((rc = coio__transport_make(loop, fd, datagram, flags, proto, user_data, waiter)) != 0) {
    coio_future_unref(waiter);
    return rc;
  }
  return coio__await_started(waiter, result); /* the transport owns fd from here */
}

/* ---- create_connection ----------------------------------------------------------- */

typedef struct conn_req {
  coio_addrinfo_t *addrs; /* pre-resolved (coio__create_connection_to), or NULL */
  char *host;
  int port;
  coio_connect_options_t opts;
  coio_sockaddr_t local;
  const coio_protocol_t *proto;
  void *ud;
  char *sni; /* a copy of opts.server_hostname (TLS) */
} conn_req_t;

static int try_address(coio_loop_t *loop, conn_req_t *r, const coio_sockaddr_t *addr,
                       coio_socket_t *out) {
  const coio__driver_t *drv = coio__loop_backend_table(loop)->driver;
  coio_socket_t fd;
  coio_future_t *f;
  int rc;
  if ((rc = coio__socket_open(coio_sockaddr_family(addr), COIO_SOCK_STREAM, &fd)) != 0)
    return rc;
  if (r->opts.local_addr && (rc = coio__socket_bind(fd, &r->local)) != 0)
    goto fail;
  if ((rc = coio_future_new(loop, &f)) != 0)
    goto fail;
  if ((rc = drv->connect(loop, fd, addr, f)) == 0)
    rc = coio_await(f); /* a cancel cancels f; the driver stops the attempt */
  coio_future_unref(f);
  if (rc == 0) {
    *out = fd;
    return 0;
  }
fail:
  coio_socket_close(fd);
  return rc;
}

/* ---- Happy Eyeballs (RFC 8305, as asyncio's happy_eyeballs_delay) -------------- */

typedef struct attempt {
  conn_req_t *r;
  coio_sockaddr_t addr;
  coio_socket_t fd;
  int done; /* its outcome was looked at */
} attempt_t;

static int attempt_main(void *arg, void **result) {
  attempt_t *a = arg;
  (void)result;
  return try_address(coio_future_loop(coio_task_current()), a->r, &a->addr, &a->fd);
}

/* Orders the addresses alternating families, starting with the first's
 * (RFC 8305 section 4; asyncio's interleave=1). */
static size_t interleave(coio_addrinfo_t *list, attempt_t *out, conn_req_t *r) {
  coio_addrinfo_t *ai;
  size_t n = 0;
  int first = list->family, pass;
  coio_addrinfo_t *cur[2];
  cur[0] = cur[1] = list;
  for (pass = 0;; pass ^= 1) {
    int want_first = pass == 0;
    for (ai = cur[pass]; ai && ((ai->family == first) != want_first); ai = ai->next)
      ;
    if (ai) {
      out[n].r = r;
      out[n].addr = ai->addr;
      out[n].fd = COIO_INVALID_SOCKET;
      out[n].done = 0;
      n++;
      cur[pass] = ai->next;
    } else {
      cur[pass] = NULL;
      if (!cur[pass ^ 1])
        break;
    }
  }
  return n;
}

/* Starts an attempt per address, each happy_eyeballs_delay after the one
 * before (at once when one fails), until one connects; the others are then
 * cancelled (and closed). Returns 0 with *out, or the last error. */
static int happy_eyeballs(coio_loop_t *loop, conn_req_t *r, coio_addrinfo_t *list,
                          coio_socket_t *out) {
  coio_addrinfo_t *ai;
  attempt_t *att;
  coio_task_t **tasks, **pending;
  size_t n = 0, started = 0, i, npending;
  int rc = COIO_ENONAME, winner = -1, cancelled = 0;
  for (ai = list; ai; ai = ai->next)
    n++;
  att = calloc(n, sizeof *att);
  tasks = calloc(n, sizeof *tasks);
  pending = calloc(n, sizeof *pending);
  if (!att || !tasks || !pending) {
    free(att);
    free(tasks);
    free(pending);
    return COIO_ENOMEM;
  }
  n = interleave(list, att, r);
  while (winner < 0 && !cancelled) {
    int w;
    if (started < n) {
      if ((w = coio_task_spawn(loop, attempt_main, &att[started], NULL, &tasks[started])) != 0) {
        rc = w;
        break;
      }
      started++;
    }
    for (i = npending = 0; i < started; i++)
      if (!att[i].done)
        pending[npending++] = tasks[i];
    if (npending == 0)
      break; /* every address failed */
    w = coio_wait(pending, npending, COIO_WAIT_FIRST_COMPLETED,
                  started < n ? r->opts.happy_eyeballs_delay : COIO_NO_TIMEOUT);
    if (w == COIO_ECANCELED) {
      cancelled = 1;
      rc = w;
      break;
    }
    for (i = 0; i < started; i++) {
      int one;
      if (att[i].done || !coio_future_done(tasks[i]))
        continue;
      att[i].done = 1;
      one = coio_future_result(tasks[i], NULL);
      if (one == 0 && winner < 0)
        winner = (int)i;
      else if (one != 0)
        rc = one;
    }
  }
  /* The others are cancelled and awaited, so their sockets are closed (or,
   * for one that connected as well, closed here) before we return. */
  for (i = 0; i < started; i++) {
    if ((int)i == winner)
      continue;
    if (!coio_future_done(tasks[i]))
      coio_task_cancel(tasks[i], NULL);
    while (!coio_future_done(tasks[i]))
      if (coio_await(tasks[i]) == COIO_ECANCELED && !coio_future_done(tasks[i]))
        continue; /* our own cancel arrived: keep waiting for the attempt */
    if (coio_future_result(tasks[i], NULL) == 0 && att[i].fd != COIO_INVALID_SOCKET)
      coio_socket_close(att[i].fd);
  }
  if (winner >= 0) {
    *out = att[winner].fd;
    rc = cancelled ? COIO_ECANCELED : 0;
    if (cancelled)
      coio_socket_close(att[winner].fd);
  }
  for (i = 0; i < started; i++)
    coio_future_unref(tasks[i]);
  free(att);
  free(tasks);
  free(pending);
  return rc;
}

static int connect_task(void *arg, void **result) {
  conn_req_t *r = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  coio_addrinfo_hints_t hints;
  coio_addrinfo_t *ai, *list = NULL;
  coio_future_t *dns;
  char port[16];
  coio_socket_t fd = COIO_INVALID_SOCKET;
  int rc;
  memset(&hints, 0, sizeof hints);
  hints.family = r->opts.family;
  hints.socktype = COIO_SOCK_STREAM;
  snprintf(port, sizeof port, "%d", r->port);
  dns = NULL;
  if (r->addrs) {
    list = r->addrs;
    rc = 0;
  } else {
    if ((rc = coio_getaddrinfo(loop, r->host, port, &hints, &dns)) != 0)
      return rc;
    if ((rc = coio_await(dns)) == 0)
      rc = coio_future_result(dns, (void **)&list);
  }
  if (rc == 0 && !list)
    rc = COIO_ENONAME;
  if (rc == 0 && r->opts.happy_eyeballs_delay > 0) {
    rc = happy_eyeballs(loop, r, list, &fd);
  } else {
    /* Every address in order until one connects; the error reported is
     * the last one's (asyncio reports all when they differ). */
    for (ai = list; rc == 0 && ai; ai = ai->next) {
      int one = try_address(loop, r, &ai->addr, &fd);
      if (one == 0)
        break;
      if (one == COIO_ECANCELED || !ai->next) {
        rc = one;
        break;
      }
    }
  }
  coio_future_unref(dns);
  if (rc != 0)
    return rc;
  if (r->opts.tls) { /* TLS: the future resolves after the handshake */
    int taken = 0;
    rc = coio__tls_client(loop, fd, &r->opts, r->host, r->proto, r->ud, &taken, result);
    if (rc != 0 && !taken)
      coio_socket_close(fd);
    return rc;
  }
  if ((rc = coio__adopt(loop, fd, 0, 0, r->proto, r->ud, result)) != 0 && fd != COIO_INVALID_SOCKET &&
      rc != COIO_ECANCELED)
    coio_socket_close(fd);
  return rc;
}

/* opts into r; a TLS context and server name live as long as the attempt. */
static int copy_opts(conn_req_t *r, const coio_connect_options_t *opts) {
  if (!opts)
    return 0;
  r->opts = *opts;
  r->opts.server_hostname = NULL;
  r->opts.tls = NULL;
  if (opts->local_addr)
    r->local = *opts->local_addr;
  if (!opts->tls)
    return 0;
  if (opts->server_hostname) {
    if (!(r->sni = malloc(strlen(opts->server_hostname) + 1)))
      return COIO_ENOMEM;
    strcpy(r->sni, opts->server_hostname);
    r->opts.server_hostname = r->sni;
  }
  coio_tls_context_ref(opts->tls);
  r->opts.tls = opts->tls;
  return 0;
}

static void free_conn_req(void *arg) {
  conn_req_t *r = arg;
  coio_addrinfo_free(r->addrs);
  free(r->host);
  free(r->sni);
  coio_tls_context_unref(r->opts.tls);
  free(r);
}

int coio_connect_socket(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                        coio_socket_t sock, coio_future_t **out) {
  coio_connect_options_t o;
  memset(&o, 0, sizeof o);
  o.use_sock = 1;
  o.sock = sock;
  return coio_create_connection(loop, proto, user_data, NULL, 0, &o, out);
}

static int sock_task(void *arg, void **result) {
  conn_req_t *r = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  int rc;
  if ((rc = coio__socket_set_nonblocking(r->opts.sock)) != 0)
    return rc; /* not a socket, closed...: still the caller's */
  if (r->opts.tls) { /* on failure the socket stays the caller's until TLS took it */
    int taken = 0;
    return coio__tls_client(loop, r->opts.sock, &r->opts, NULL, r->proto, r->ud, &taken, result);
  }
  return coio__adopt(loop, r->opts.sock, 0, 0, r->proto, r->ud, result);
}

int coio_create_connection(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                           const char *host, int port, const coio_connect_options_t *opts,
                           coio_future_t **out) {
  conn_req_t *r;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || (rc = coio__check_stream_protocol(proto)) != 0)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->driver)
    return COIO_ENOTSUP;
  if (opts && opts->use_sock) {
    if (host || opts->sock == COIO_INVALID_SOCKET)
      return COIO_EINVAL;
  } else if (!host || port < 0 || port > 65535) {
    return COIO_EINVAL;
  }
  if (opts && opts->tls && (rc = coio__tls_check_context(opts->tls, COIO_TLS_CLIENT)) != 0)
    return rc;
  if (!(r = calloc(1, sizeof *r)))
    return COIO_ENOMEM;
  if ((rc = copy_opts(r, opts)) != 0 || (host && !(r->host = malloc(strlen(host) + 1)))) {
    free_conn_req(r);
    return rc ? rc : COIO_ENOMEM;
  }
  if (host)
    strcpy(r->host, host);
  r->port = port;
  r->proto = proto;
  r->ud = user_data;
  return coio__spawn_req(loop, opts && opts->use_sock ? sock_task : connect_task, r, free_conn_req, out);
}

/* For tests: create_connection to a given list of addresses, in order (no
 * resolution), so that Happy Eyeballs can be tested with several
 * addresses on a machine whose names resolve to one. */
int coio__create_connection_to(coio_loop_t *loop, const coio_protocol_t *proto, void *user_data,
                               const coio_sockaddr_t *addrs, size_t n,
                               const coio_connect_options_t *opts, coio_future_t **out) {
  conn_req_t *r;
  coio_addrinfo_t *head = NULL, **tail = &head;
  size_t i;
  if (!out || !loop || !addrs || n == 0 || coio__check_stream_protocol(proto) != 0)
    return COIO_EINVAL;
  *out = NULL;
  if (!(r = calloc(1, sizeof *r)))
    return COIO_ENOMEM;
  for (i = 0; i < n; i++) {
    coio_addrinfo_t *ai = calloc(1, sizeof *ai);
    if (!ai) {
      coio_addrinfo_free(head);
      free(r);
      return COIO_ENOMEM;
    }
    ai->family = coio_sockaddr_family(&addrs[i]);
    ai->socktype = COIO_SOCK_STREAM;
    ai->addr = addrs[i];
    *tail = ai;
    tail = &ai->next;
  }
  r->addrs = head;
  if (copy_opts(r, opts) != 0) {
    free_conn_req(r);
    return COIO_ENOMEM;
  }
  r->proto = proto;
  r->ud = user_data;
  return coio__spawn_req(loop, connect_task, r, free_conn_req, out);
}

/* ---- datagram endpoints ----------------------------------------------------------- */

typedef struct dgram_req {
  coio_datagram_options_t opts;
  coio_sockaddr_t local, remote;
  const coio_datagram_protocol_t *proto;
  void *ud;
} dgram_req_t;


static int dgram_task(void *arg, void **result) {
  dgram_req_t *r = arg;
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  coio_socket_t fd = r->opts.sock;
  int family = r->opts.family, rc;
  if (r->opts.use_sock && (rc = coio__socket_set_nonblocking(fd)) != 0)
    return rc;
  if (!r->opts.use_sock) {
    if (r->opts.local_addr)
      family = coio_sockaddr_family(&r->local);
    else if (r->opts.remote_addr)
      family = coio_sockaddr_family(&r->remote);
    if (family == COIO_AF_UNSPEC)
      family = COIO_AF_INET;
    if ((rc = coio__socket_open(family, COIO_SOCK_DGRAM, &fd)) != 0)
      return rc;
    if ((r->opts.reuse_port && (rc = coio__socket_set_reuse(fd, 0, 1)) != 0) ||
        (r->opts.allow_broadcast && (rc = coio__socket_set_broadcast(fd, 1)) != 0) ||
        (r->opts.local_addr && (rc = coio__socket_bind(fd, &r->local)) != 0) ||
        (r->opts.remote_addr && (rc = coio__socket_connect_now(fd, &r->remote)) != 0)) {
      coio_socket_close(fd);
      return rc;
    }
  }
  rc = coio__adopt(loop, fd, 1, 0, r->proto, r->ud, result);
  if (rc != 0 && rc != COIO_ECANCELED && !r->opts.use_sock)
    coio_socket_close(fd);
  return rc;
}

int coio_create_datagram_endpoint(coio_loop_t *loop, const coio_datagram_protocol_t *proto,
                                  void *user_data, const coio_datagram_options_t *opts,
                                  coio_future_t **out) {
  dgram_req_t *r;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || !proto || !proto->datagram_received)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->driver)
    return COIO_ENOTSUP;
  if (opts && opts->use_sock && opts->sock == COIO_INVALID_SOCKET)
    return COIO_EINVAL;
  if (!(r = calloc(1, sizeof *r)))
    return COIO_ENOMEM;
  if (opts) {
    r->opts = *opts;
    if (opts->local_addr)
      r->local = *opts->local_addr;
    if (opts->remote_addr)
      r->remote = *opts->remote_addr;
  }
  r->proto = proto;
  r->ud = user_data;
  return coio__spawn_req(loop, dgram_task, r, free, out);
}

/* ---- the operation tasks ------------------------------------------------------------ */

typedef struct op_task {
  coio_task_fn fn;
  void *req;
  void (*free_req)(void *);
} op_task_t;

static int op_main(void *arg, void **result) {
  op_task_t *o = arg;
  return o->fn(o->req, result);
}

/* Frees the request when the task ends, even one cancelled before its
 * first step (whose body never runs). */
static void op_done(coio_future_t *task, void *arg) {
  op_task_t *o = arg;
  (void)task;
  o->free_req(o->req);
  free(o);
}

int coio__spawn_req(coio_loop_t *loop, coio_task_fn fn, void *req, void (*free_req)(void *),
                    coio_future_t **out) {
  op_task_t *o = malloc(sizeof *o);
  int rc;
  if (!o) {
    free_req(req);
    return COIO_ENOMEM;
  }
  o->fn = fn;
  o->req = req;
  o->free_req = free_req;
  if ((rc = coio_task_spawn(loop, op_main, o, NULL, out)) != 0) {
    free_req(req);
    free(o);
    return rc;
  }
  if ((rc = coio_future_add_done_callback(*out, op_done, o)) != 0) {
    coio_task_cancel(*out, NULL); /* never started: frees nothing itself */
    coio_future_unref(*out);
    *out = NULL;
    free_req(req);
    free(o);
  }
  return rc;
}
