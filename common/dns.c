/* common/dns.c - asynchronous getaddrinfo/getnameinfo (asyncio's
 * loop.getaddrinfo, which runs socket.getaddrinfo in the default executor)
 * and the portable socket address helpers of net.h.
 *
 * A lookup is a run_in_executor job whose argument is a request record
 * holding copies of the caller's strings (freed by the job's arg_dtor,
 * whether the lookup ran or was cancelled first) and whose result (the
 * address list, or a coio_nameinfo_t) is freed by the job's result_dtor.
 * The system calls themselves are in dns_posix.c and dns_win.c. */
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "coio/executor.h"
#include "netaddr.h"
#include "sys.h"

/* ---- constants ------------------------------------------------------------ */

int coio__af_to_native(int family) {
  switch (family) {
  case COIO_AF_UNSPEC:
    return AF_UNSPEC;
  case COIO_AF_INET:
    return AF_INET;
  case COIO_AF_INET6:
    return AF_INET6;
  default:
    return -1;
  }
}

int coio__af_from_native(int af) {
  if (af == AF_INET)
    return COIO_AF_INET;
  if (af == AF_INET6)
    return COIO_AF_INET6;
  return COIO_AF_UNSPEC;
}

int coio__socktype_to_native(int socktype) {
  switch (socktype) {
  case COIO_SOCK_ANY:
    return 0;
  case COIO_SOCK_STREAM:
    return SOCK_STREAM;
  case COIO_SOCK_DGRAM:
    return SOCK_DGRAM;
  default:
    return -1;
  }
}

int coio__socktype_from_native(int socktype) {
  if (socktype == SOCK_STREAM)
    return COIO_SOCK_STREAM;
  if (socktype == SOCK_DGRAM)
    return COIO_SOCK_DGRAM;
  return COIO_SOCK_ANY;
}

int coio__protocol_to_native(int protocol) {
  switch (protocol) {
  case COIO_IPPROTO_ANY:
    return 0;
  case COIO_IPPROTO_TCP:
    return IPPROTO_TCP;
  case COIO_IPPROTO_UDP:
    return IPPROTO_UDP;
  default:
    return -1;
  }
}

int coio__protocol_from_native(int protocol) {
  if (protocol == IPPROTO_TCP)
    return COIO_IPPROTO_TCP;
  if (protocol == IPPROTO_UDP)
    return COIO_IPPROTO_UDP;
  return COIO_IPPROTO_ANY;
}

/* ---- address lists ---------------------------------------------------------- */

static char *dup_str(const char *s) {
  size_t n;
  char *c;
  if (!s)
    return NULL;
  n = strlen(s) + 1;
  if ((c = malloc(n)) != NULL)
    memcpy(c, s, n);
  return c;
}

int coio__addrinfo_append(coio_addrinfo_t ***tail, const struct sockaddr *addr, size_t addrlen,
                          int socktype, int protocol, const char *canonname) {
  coio_addrinfo_t *ai;
  int family = addr ? coio__af_from_native(addr->sa_family) : COIO_AF_UNSPEC;
  if (family == COIO_AF_UNSPEC || addrlen == 0 || addrlen > COIO_SOCKADDR_SIZE)
    return 0;
  ai = calloc(1, sizeof *ai);
  if (!ai)
    return COIO_ENOMEM;
  if (canonname && !(ai->canonname = dup_str(canonname))) {
    free(ai);
    return COIO_ENOMEM;
  }
  ai->family = family;
  ai->socktype = coio__socktype_from_native(socktype);
  ai->protocol = coio__protocol_from_native(protocol);
  memcpy(ai->addr.u.bytes, addr, addrlen);
  ai->addr.len = (uint32_t)addrlen;
  **tail = ai;
  *tail = &ai->next;
  return 0;
}

void coio_addrinfo_free(coio_addrinfo_t *ai) {
  while (ai) {
    coio_addrinfo_t *next = ai->next;
    free(ai->canonname);
    free(ai);
    ai = next;
  }
}

/* ---- socket addresses --------------------------------------------------------- */

static const struct sockaddr *native(const coio_sockaddr_t *sa) {
  return (const struct sockaddr *)(const void *)sa->u.bytes;
}

int coio_sockaddr_family(const coio_sockaddr_t *sa) {
  if (!sa || sa->len < sizeof(native(sa)->sa_family))
    return COIO_AF_UNSPEC;
#ifndef _WIN32
  /* A short path or abstract name is shorter than struct sockaddr. */
  if (native(sa)->sa_family == AF_UNIX) /* common/unix_socket.c */
    return COIO_AF_UNIX;
#endif
  if (sa->len < sizeof(struct sockaddr))
    return COIO_AF_UNSPEC;
  if (native(sa)->sa_family == AF_INET && sa->len >= sizeof(struct sockaddr_in))
    return COIO_AF_INET;
  if (native(sa)->sa_family == AF_INET6 && sa->len >= sizeof(struct sockaddr_in6))
    return COIO_AF_INET6;
  return COIO_AF_UNSPEC;
}

int coio_sockaddr_port(const coio_sockaddr_t *sa) {
  if (!sa)
    return COIO_EINVAL;
  switch (coio_sockaddr_family(sa)) {
  case COIO_AF_INET:
    return ntohs(((const struct sockaddr_in *)(const void *)sa->u.bytes)->sin_port);
  case COIO_AF_INET6:
    return ntohs(((const struct sockaddr_in6 *)(const void *)sa->u.bytes)->sin6_port);
  default:
    return COIO_EAFNOSUPPORT;
  }
}

int coio_sockaddr_set_port(coio_sockaddr_t *sa, int port) {
  if (!sa || port < 0 || port > 65535)
    return COIO_EINVAL;
  switch (coio_sockaddr_family(sa)) {
  case COIO_AF_INET:
    ((struct sockaddr_in *)(void *)sa->u.bytes)->sin_port = htons((unsigned short)port);
    return 0;
  case COIO_AF_INET6:
    ((struct sockaddr_in6 *)(void *)sa->u.bytes)->sin6_port = htons((unsigned short)port);
    return 0;
  default:
    return COIO_EAFNOSUPPORT;
  }
}

int coio_sockaddr_from_string(coio_sockaddr_t *sa, const char *ip, int port) {
  coio_addrinfo_hints_t hints;
  coio_addrinfo_t *ai = NULL;
  int rc;
  if (!sa)
    return COIO_EINVAL;
  memset(sa, 0, sizeof *sa);
  if (!ip || port < 0 || port > 65535)
    return COIO_EINVAL;
  if ((rc = coio__os_init()) != 0)
    return rc;
  /* getaddrinfo with NUMERICHOST parses without any I/O and knows IPv6
   * scopes ("%eth0", "%2") on every platform. */
  memset(&hints, 0, sizeof hints);
  hints.flags = COIO_AI_NUMERICHOST;
  hints.socktype = COIO_SOCK_STREAM; /* one entry per address, not one per type */
  rc = coio__dns_getaddrinfo(ip, NULL, &hints, &ai);
  if (rc != 0 || !ai) {
    coio_addrinfo_free(ai);
    return rc == COIO_ENOMEM ? rc : COIO_EINVAL;
  }
  *sa = ai->addr;
  coio_addrinfo_free(ai);
  return coio_sockaddr_set_port(sa, port);
}

int coio_sockaddr_to_string(const coio_sockaddr_t *sa, char *buf, size_t size) {
  char host[COIO_NI_MAXHOST];
  size_t n;
  int rc;
  if (!sa || !buf || size == 0)
    return COIO_EINVAL;
  buf[0] = '\0';
  if (sa->len == 0)
    return COIO_EINVAL;
  if (coio_sockaddr_family(sa) == COIO_AF_UNSPEC)
    return COIO_EAFNOSUPPORT;
  if ((rc = coio__os_init()) != 0)
    return rc;
  rc = coio__dns_getnameinfo(sa, COIO_NI_NUMERICHOST | COIO_NI_NUMERICSERV, host, sizeof host,
                             NULL, 0);
  if (rc != 0)
    return rc;
  n = strlen(host);
  if (n >= size)
    return COIO_ERANGE;
  memcpy(buf, host, n + 1);
  return 0;
}

/* ---- getaddrinfo ------------------------------------------------------------------ */

typedef struct gai_request {
  char *host, *service;
  coio_addrinfo_hints_t hints;
} gai_request_t;

static void gai_request_free(void *arg) {
  gai_request_t *r = arg;
  free(r->host);
  free(r->service);
  free(r);
}

static void addrinfo_dtor(void *list) { coio_addrinfo_free(list); }

static int gai_job(void *arg, void **result) {
  gai_request_t *r = arg;
  coio_addrinfo_t *ai = NULL;
  int rc = coio__dns_getaddrinfo(r->host, r->service, &r->hints, &ai);
  if (rc == 0 && !ai)
    rc = COIO_ENONAME;
  if (rc != 0) {
    coio_addrinfo_free(ai);
    return rc;
  }
  *result = ai;
  return 0;
}

#define AI_KNOWN_FLAGS                                                                             \
  (COIO_AI_PASSIVE | COIO_AI_CANONNAME | COIO_AI_NUMERICHOST | COIO_AI_NUMERICSERV |               \
   COIO_AI_ADDRCONFIG)

int coio_getaddrinfo(coio_loop_t *loop, const char *host, const char *service,
                     const coio_addrinfo_hints_t *hints, coio_future_t **out) {
  coio_executor_job_options_t opts;
  gai_request_t *r;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !out || (!host && !service))
    return COIO_EINVAL;
  if (hints && (coio__af_to_native(hints->family) < 0 ||
                coio__socktype_to_native(hints->socktype) < 0 ||
                coio__protocol_to_native(hints->protocol) < 0 || (hints->flags & ~AI_KNOWN_FLAGS)))
    return COIO_EINVAL;
  r = calloc(1, sizeof *r);
  if (!r)
    return COIO_ENOMEM;
  if (hints)
    r->hints = *hints;
  if ((host && !(r->host = dup_str(host))) || (service && !(r->service = dup_str(service)))) {
    gai_request_free(r);
    return COIO_ENOMEM;
  }
  memset(&opts, 0, sizeof opts);
  opts.result_dtor = addrinfo_dtor;
  opts.arg_dtor = gai_request_free;
  if ((rc = coio_run_in_executor(loop, NULL, gai_job, r, &opts, out)) != 0)
    gai_request_free(r);
  return rc;
}

/* ---- getnameinfo ------------------------------------------------------------------- */

typedef struct gni_request {
  coio_sockaddr_t addr;
  int flags;
} gni_request_t;

static int gni_job(void *arg, void **result) {
  gni_request_t *r = arg;
  coio_nameinfo_t *ni = calloc(1, sizeof *ni);
  int rc;
  if (!ni)
    return COIO_ENOMEM;
  rc = coio__dns_getnameinfo(&r->addr, r->flags, ni->host, sizeof ni->host, ni->service,
                             sizeof ni->service);
  if (rc != 0) {
    free(ni);
    return rc;
  }
  *result = ni;
  return 0;
}

#define NI_KNOWN_FLAGS                                                                             \
  (COIO_NI_NUMERICHOST | COIO_NI_NUMERICSERV | COIO_NI_NAMEREQD | COIO_NI_NOFQDN | COIO_NI_DGRAM)

int coio_getnameinfo(coio_loop_t *loop, const coio_sockaddr_t *addr, int flags,
                     coio_future_t **out) {
  coio_executor_job_options_t opts;
  gni_request_t *r;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !addr || !out || addr->len == 0 || addr->len > COIO_SOCKADDR_SIZE ||
      (flags & ~NI_KNOWN_FLAGS))
    return COIO_EINVAL;
  if (coio_sockaddr_family(addr) == COIO_AF_UNSPEC)
    return COIO_EAFNOSUPPORT;
  r = malloc(sizeof *r);
  if (!r)
    return COIO_ENOMEM;
  r->addr = *addr;
  r->flags = flags;
  memset(&opts, 0, sizeof opts);
  opts.result_dtor = free;
  opts.arg_dtor = free;
  if ((rc = coio_run_in_executor(loop, NULL, gni_job, r, &opts, out)) != 0)
    free(r);
  return rc;
}
