/* common/dns_posix.c - the blocking resolver calls on POSIX: getaddrinfo
 * and getnameinfo, their EAI_* codes mapped to COIO_E* (here, not in
 * error_posix.c: EAI_* is getaddrinfo's own numbering, not errno). */
#include <errno.h>
#include <string.h>

#include "error_internal.h"
#include "netaddr.h"

static int err_from_gai(int rc) {
  switch (rc) {
  case 0:
    return 0;
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
  case EAI_ADDRFAMILY:
#endif
  case EAI_SERVICE:
    return COIO_ENONAME;
  case EAI_AGAIN:
    return COIO_EAGAIN;
  case EAI_FAIL:
    return COIO_EIO;
  case EAI_FAMILY:
    return COIO_EAFNOSUPPORT;
  case EAI_SOCKTYPE:
    return COIO_ENOTSUP;
  case EAI_BADFLAGS:
    return COIO_EINVAL;
  case EAI_MEMORY:
    return COIO_ENOMEM;
  case EAI_OVERFLOW:
    return COIO_ERANGE;
  case EAI_SYSTEM:
    return errno ? coio__err_from_errno(errno) : COIO_EUNKNOWN;
  default:
    return COIO_EUNKNOWN;
  }
}

static int ai_flags_to_native(int flags) {
  int n = 0;
  if (flags & COIO_AI_PASSIVE)
    n |= AI_PASSIVE;
  if (flags & COIO_AI_CANONNAME)
    n |= AI_CANONNAME;
  if (flags & COIO_AI_NUMERICHOST)
    n |= AI_NUMERICHOST;
  if (flags & COIO_AI_NUMERICSERV)
    n |= AI_NUMERICSERV;
  if (flags & COIO_AI_ADDRCONFIG)
    n |= AI_ADDRCONFIG;
  return n;
}

int coio__dns_getaddrinfo(const char *host, const char *service, const coio_addrinfo_hints_t *hints,
                          coio_addrinfo_t **out) {
  struct addrinfo h, *res = NULL, *p;
  coio_addrinfo_t *list = NULL, **tail = &list;
  int rc;
  memset(&h, 0, sizeof h);
  h.ai_family = coio__af_to_native(hints->family);
  h.ai_socktype = coio__socktype_to_native(hints->socktype);
  h.ai_protocol = coio__protocol_to_native(hints->protocol);
  h.ai_flags = ai_flags_to_native(hints->flags);
  errno = 0;
  rc = getaddrinfo(host, service, &h, &res);
  if (rc != 0)
    return err_from_gai(rc);
  for (p = res; p; p = p->ai_next) {
    rc = coio__addrinfo_append(&tail, p->ai_addr, (size_t)p->ai_addrlen, p->ai_socktype,
                               p->ai_protocol, p == res ? p->ai_canonname : NULL);
    if (rc != 0)
      break;
  }
  freeaddrinfo(res);
  if (rc != 0) {
    coio_addrinfo_free(list);
    return rc;
  }
  *out = list;
  return 0;
}

static int ni_flags_to_native(int flags) {
  int n = 0;
  if (flags & COIO_NI_NUMERICHOST)
    n |= NI_NUMERICHOST;
  if (flags & COIO_NI_NUMERICSERV)
    n |= NI_NUMERICSERV;
  if (flags & COIO_NI_NAMEREQD)
    n |= NI_NAMEREQD;
  if (flags & COIO_NI_NOFQDN)
    n |= NI_NOFQDN;
  if (flags & COIO_NI_DGRAM)
    n |= NI_DGRAM;
  return n;
}

int coio__dns_getnameinfo(const coio_sockaddr_t *sa, int flags, char *host, size_t hostlen,
                          char *serv, size_t servlen) {
  int rc;
  errno = 0;
  rc = getnameinfo((const struct sockaddr *)(const void *)sa->u.bytes, (socklen_t)sa->len, host,
                   (socklen_t)hostlen, serv, (socklen_t)servlen, ni_flags_to_native(flags));
  return err_from_gai(rc);
}
