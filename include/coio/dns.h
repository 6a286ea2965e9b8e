/* coio/dns.h - asynchronous name resolution (asyncio's loop.getaddrinfo
 * and loop.getnameinfo): the system resolver runs on the loop's default
 * executor (executor.h) and the answer arrives as a future of the loop.
 * The address types are in net.h.
 *
 *   coio_addrinfo_hints_t hints = {0};
 *   coio_addrinfo_t *ai;
 *   hints.socktype = COIO_SOCK_STREAM;
 *   coio_getaddrinfo(loop, "localhost", "8080", &hints, &f);
 *   if (coio_await(f) == 0 && coio_future_result(f, (void **)&ai) == 0)
 *     for (; ai; ai = ai->next) ...;
 *   coio_future_unref(f);                   (frees the list)
 *
 * Errors of the lookups (the future's error): COIO_ENONAME (no such name
 * or service, or no address of the family asked for), COIO_EAGAIN (a
 * temporary resolver failure), COIO_EIO (a permanent one),
 * COIO_EAFNOSUPPORT, COIO_ENOTSUP (socket type), COIO_EINVAL (bad flags),
 * COIO_ENOMEM. */
#ifndef COIO_DNS_H
#define COIO_DNS_H

#include "future.h"
#include "net.h"

COIO_BEGIN_DECLS

/* getaddrinfo: host (UTF-8 name or numeric address; NULL with a service
 * for the wildcard or loopback address) and service (port number or
 * service name; may be NULL, not both). hints may be NULL (any). *out: a
 * future (the caller's reference) whose value is a coio_addrinfo_t list
 * owned by the future. From the loop's thread. Immediate errors:
 * COIO_EINVAL (NULL loop or out, host and service both NULL, bad hints),
 * COIO_ECLOSED, COIO_ESHUTDOWN (default executor shut down), COIO_ENOMEM.
 * Cancelling the future before the lookup starts keeps it from running;
 * a lookup already running finishes on its thread and is dropped. */
COIO_API int coio_getaddrinfo(coio_loop_t *loop, const char *host, const char *service,
                              const coio_addrinfo_hints_t *hints, coio_future_t **out);

/* Flags for coio_getnameinfo (the NI_* flags). */
enum {
  COIO_NI_NUMERICHOST = 1, /* the numeric address, no reverse lookup */
  COIO_NI_NUMERICSERV = 2, /* the port number, not a service name */
  COIO_NI_NAMEREQD = 4,    /* fail (COIO_ENONAME) if the name is unknown */
  COIO_NI_NOFQDN = 8,      /* local hosts: the short name */
  COIO_NI_DGRAM = 16       /* the service is a datagram service */
};

#define COIO_NI_MAXHOST 1025
#define COIO_NI_MAXSERV 32

/* getnameinfo's answer: both strings UTF-8 and NUL-terminated. */
typedef struct coio_nameinfo {
  char host[COIO_NI_MAXHOST];
  char service[COIO_NI_MAXSERV];
} coio_nameinfo_t;

/* getnameinfo: the host and service names of addr (copied; IPv4 or IPv6)
 * for flags (COIO_NI_*). *out: a future whose value is a coio_nameinfo_t
 * owned by the future. From the loop's thread. Immediate errors: COIO_EINVAL
 * (NULL, empty address, unknown flags), COIO_EAFNOSUPPORT, COIO_ECLOSED,
 * COIO_ESHUTDOWN, COIO_ENOMEM. */
COIO_API int coio_getnameinfo(coio_loop_t *loop, const coio_sockaddr_t *addr, int flags,
                              coio_future_t **out);

COIO_END_DECLS

#endif /* COIO_DNS_H */
