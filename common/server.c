/* common/server.c - servers (asyncio's Server): listening sockets for every
 * address the host resolves to, each accepted connection made into a
 * transport with a protocol from the user's factory, and the bookkeeping of
 * live clients for close_clients / abort_clients / wait_closed. How
 * sockets are accepted is the driver's (listen_start / listen_stop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coio/dns.h"
#include "coio/error.h"
#include "loop_internal.h"
#include "task_internal.h"
#include "tls_internal.h"
#include "transport_internal.h"


static const coio__driver_t *driver(const coio_server_t *s) {
  return coio__loop_backend_table(s->loop)->driver;
}

void coio__server_accepted(coio_server_t *s, coio_socket_t fd, const coio_sockaddr_t *peer) {
  const coio_protocol_t *proto = NULL;
  void *ud = NULL;
  coio_transport_t *t;
  (void)peer;
  if (s->tls && !s->closed) {
    coio__tls_accepted(s, fd); /* the factory is asked after the handshake */
    return;
  }
  if (s->closed || s->factory(s->factory_data, &proto, &ud) != 0 || !proto ||
      (!proto->data_received && !(proto->get_buffer && proto->buffer_updated))) {
    coio_socket_close(fd); /* refused by the factory (or a bad protocol) */
    return;
  }
  if (!(t = coio__transport_new(s->loop, fd, 0, proto, ud))) {
    coio_socket_close(fd);
    return;
  }
  t->server = s;
  coio__server_client_added(t);
  coio__transport_ref(t);
  if (coio__transport_start(t, NULL) != 0) {
    /* start freed nothing we still hold but our extra ref */
    coio_socket_close(fd);
    t->fd = COIO_INVALID_SOCKET;
    coio__transport_fatal(t, COIO_ENOMEM);
  }
  coio__transport_unref(t);
}

void coio__server_listen_error(coio_server_t *s, size_t i, int error) {
  (void)error;
  if (i < s->nlisteners && s->listeners[i].active) {
    s->listeners[i].active = 0;
    driver(s)->listen_stop(s, i); /* closes the socket */
    s->listeners[i].fd = COIO_INVALID_SOCKET; /* so coio_server_close does not close it again */
  }
}

void coio__server_maybe_closed(coio_server_t *s) {
  if (s->closed && s->nclients == 0 && s->closed_fut && !coio_future_done(s->closed_fut))
    coio_future_set_result(s->closed_fut, NULL, NULL);
}

int coio_server_start(coio_server_t *s) {
  size_t i;
  int rc;
  if (!s)
    return COIO_EINVAL;
  if (s->closed)
    return COIO_ECLOSED;
  if (s->serving)
    return 0;
  for (i = 0; i < s->nlisteners; i++) {
    if ((rc = driver(s)->listen_start(s, i)) != 0)
      return rc;
    s->listeners[i].active = 1;
  }
  s->serving = 1;
  return 0;
}

int coio_server_is_serving(const coio_server_t *s) { return s && s->serving && !s->closed; }

int coio_server_close(coio_server_t *s) {
  size_t i;
  if (!s)
    return COIO_EINVAL;
  if (s->closed)
    return 0;
  s->closed = 1;
  s->serving = 0;
  if (s->close_hook)
    s->close_hook(s); /* a server without listeners (named pipes) */
  for (i = 0; i < s->nlisteners; i++) {
    if (s->listeners[i].active) {
      s->listeners[i].active = 0;
      driver(s)->listen_stop(s, i); /* closes the socket */
    } else if (s->listeners[i].fd != COIO_INVALID_SOCKET) {
      coio_socket_close(s->listeners[i].fd);
    }
    s->listeners[i].fd = COIO_INVALID_SOCKET;
  }
  coio__server_maybe_closed(s);
  return 0;
}

static int each_client(coio_server_t *s, int (*fn)(coio_transport_t *)) {
  coio_transport_t *t, *next;
  if (!s)
    return COIO_EINVAL;
  for (t = s->clients; t; t = next) {
    next = t->srv_next;
    fn(t->above ? t->above : t); /* a TLS connection: its TLS transport */
  }
  return 0;
}

int coio_server_close_clients(coio_server_t *s) { return each_client(s, coio_transport_close); }

int coio_server_abort_clients(coio_server_t *s) { return each_client(s, coio_transport_abort); }

int coio_server_wait_closed(coio_server_t *s) {
  coio_future_t *f;
  int rc;
  if (!s)
    return COIO_EINVAL;
  if (!coio_task_current())
    return COIO_ENOTASK;
  if (s->closed && s->nclients == 0)
    return 0;
  if (!s->closed_fut && (rc = coio_future_new(s->loop, &s->closed_fut)) != 0)
    return rc;
  /* Each caller awaits its own shield: a cancelled waiter (its task's
   * cancel cancels what it awaits) must not cancel the shared future. */
  if ((rc = coio_shield(s->closed_fut, &f)) != 0)
    return rc;
  rc = coio_await(f);
  coio_future_unref(f);
  return rc;
}

size_t coio_server_sockets(const coio_server_t *s, coio_socket_t *socks, size_t max) {
  size_t i, n = 0;
  if (!s || s->closed)
    return 0;
  for (i = 0; i < s->nlisteners; i++, n++)
    if (socks && n < max)
      socks[n] = s->listeners[i].fd;
  return n;
}

int coio_server_sockname(const coio_server_t *s, size_t i, coio_sockaddr_t *addr) {
  if (!s || !addr || i >= s->nlisteners)
    return COIO_EINVAL;
  *addr = s->listeners[i].addr;
  return 0;
}

int coio_server_free(coio_server_t *s) {
  if (!s)
    return 0;
  if (!s->closed)
    coio_server_close(s);
  if (s->nclients > 0)
    return COIO_EBUSY;
  coio_future_unref(s->closed_fut);
  coio_tls_context_unref(s->tls);
  if (s->free_data)
    s->free_data(s->factory_data);
  free(s->listeners);
  free(s);
  return 0;
}

/* ---- create_server ------------------------------------------------------------------- */

typedef struct srv_req {
  coio_server_t *s;
  char *host;
  int port;
  coio_server_options_t opts;
} srv_req_t;

static int add_listener(coio_server_t *s, coio_socket_t fd) {
  coio__listener_t *n = realloc(s->listeners, (s->nlisteners + 1) * sizeof *n);
  if (!n)
    return COIO_ENOMEM;
  s->listeners = n;
  memset(&n[s->nlisteners], 0, sizeof *n);
  n[s->nlisteners].fd = fd;
  coio__socket_name(fd, &n[s->nlisteners].addr);
  s->nlisteners++;
  return 0;
}

static int listen_on(srv_req_t *r, const coio_sockaddr_t *addr) {
  coio_socket_t fd;
  int fam = coio_sockaddr_family(addr), rc;
  if ((rc = coio__socket_open(fam, COIO_SOCK_STREAM, &fd)) != 0)
    return rc;
  if ((rc = coio__socket_set_reuse(fd, r->opts.reuse_address, r->opts.reuse_port)) != 0 ||
      /* an IPv6 socket takes IPv6 only: the IPv4 address gets its own */
      (fam == COIO_AF_INET6 && (rc = coio__socket_set_v6only(fd, 1)) != 0) ||
      (rc = coio__socket_bind(fd, addr)) != 0 ||
      (rc = coio__socket_listen(fd, r->opts.backlog > 0 ? r->opts.backlog : 100)) != 0 ||
      (rc = add_listener(r->s, fd)) != 0) {
    coio_socket_close(fd);
    return rc;
  }
  return 0;
}

static int server_task(void *arg, void **result) {
  srv_req_t *r = arg;
  coio_server_t *s = r->s;
  coio_addrinfo_hints_t hints;
  coio_addrinfo_t *ai, *list = NULL;
  coio_future_t *dns;
  char port[16];
  int rc = 0;
  if (r->opts.use_sock) {
    /* A blocking listener would block the loop in accept. */
    if ((rc = coio__socket_set_nonblocking(r->opts.sock)) == 0)
      rc = add_listener(s, r->opts.sock);
  } else {
    memset(&hints, 0, sizeof hints);
    hints.family = r->opts.family;
    hints.socktype = COIO_SOCK_STREAM;
    hints.flags = COIO_AI_PASSIVE;
    snprintf(port, sizeof port, "%d", r->port);
    if ((rc = coio_getaddrinfo(s->loop, r->host, port, &hints, &dns)) != 0)
      return rc;
    if ((rc = coio_await(dns)) == 0)
      rc = coio_future_result(dns, (void **)&list);
    for (ai = list; rc == 0 && ai; ai = ai->next) {
      size_t i;
      int dup = 0;
      for (i = 0; i < s->nlisteners; i++) /* getaddrinfo may repeat an address */
        dup |= s->listeners[i].addr.len == ai->addr.len &&
               memcmp(s->listeners[i].addr.u.bytes, ai->addr.u.bytes, ai->addr.len) == 0;
      if (!dup)
        rc = listen_on(r, &ai->addr);
    }
    coio_future_unref(dns);
  }
  if (rc == 0 && !r->opts.no_start)
    rc = coio_server_start(s);
  if (rc != 0) {
    coio_server_free(s);
    r->s = NULL;
    return rc;
  }
  r->s = NULL; /* the caller's now */
  *result = s;
  return 0;
}

static void free_srv_req(coio_future_t *task, void *arg) {
  srv_req_t *r = arg;
  (void)task;
  if (r->s)
    coio_server_free(r->s);
  free(r->host);
  free(r);
}

static int srv_main(void *arg, void **result) { return server_task(arg, result); }

int coio_create_server(coio_loop_t *loop, coio_protocol_factory_t factory, void *factory_data,
                       const char *host, int port, const coio_server_options_t *opts,
                       coio_future_t **out) {
  srv_req_t *r;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop || !factory || port < 0 || port > 65535)
    return COIO_EINVAL;
  if (opts && opts->use_sock && (host || opts->sock == COIO_INVALID_SOCKET))
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (!coio__loop_backend_table(loop)->driver)
    return COIO_ENOTSUP;
  if (opts && opts->tls && (rc = coio__tls_check_context(opts->tls, COIO_TLS_SERVER)) != 0)
    return rc;
  if (!(r = calloc(1, sizeof *r)) || !(r->s = calloc(1, sizeof *r->s)) ||
      (host && !(r->host = malloc(strlen(host) + 1)))) {
    if (r)
      free(r->s);
    free(r);
    return COIO_ENOMEM;
  }
  if (host)
    strcpy(r->host, host);
  r->port = port;
  if (opts)
    r->opts = *opts;
  r->s->loop = loop;
  r->s->factory = factory;
  r->s->factory_data = factory_data;
  if (opts && opts->tls) {
    coio_tls_context_ref(opts->tls);
    r->s->tls = opts->tls;
    r->s->tls_handshake_timeout = opts->tls_handshake_timeout;
    r->s->tls_shutdown_timeout = opts->tls_shutdown_timeout;
  }
  if ((rc = coio_task_spawn(loop, srv_main, r, NULL, out)) != 0 ||
      (rc = coio_future_add_done_callback(*out, free_srv_req, r)) != 0) {
    if (*out) {
      coio_task_cancel(*out, NULL);
      coio_future_unref(*out);
      *out = NULL;
    }
    coio_server_free(r->s);
    free(r->host);
    free(r);
  }
  return rc;
}
