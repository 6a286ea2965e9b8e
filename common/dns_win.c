/* common/dns_win.c - the blocking resolver calls on Windows: GetAddrInfoW
 * and GetNameInfoW (the W forms, so names are UTF-8 on coio's side and
 * UTF-16 on the system's, never the ANSI code page; PITFALLS.md section
 * 2), their WSA codes mapped to COIO_E* (getaddrinfo's EAI_* codes are
 * WSA codes on Windows; the resolver-specific ones are mapped here, the
 * rest by coio__err_from_win32). */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "error_internal.h"
#include "netaddr.h"

static int err_from_gai(int rc) {
  switch (rc) {
  case 0:
    return 0;
  case WSAHOST_NOT_FOUND: /* EAI_NONAME */
  case WSANO_DATA:        /* EAI_NODATA */
  case WSATYPE_NOT_FOUND: /* EAI_SERVICE */
    return COIO_ENONAME;
  case WSATRY_AGAIN: /* EAI_AGAIN */
    return COIO_EAGAIN;
  case WSANO_RECOVERY: /* EAI_FAIL */
    return COIO_EIO;
  case WSAEAFNOSUPPORT: /* EAI_FAMILY */
    return COIO_EAFNOSUPPORT;
  case WSAESOCKTNOSUPPORT: /* EAI_SOCKTYPE */
    return COIO_ENOTSUP;
  case WSAEINVAL: /* EAI_BADFLAGS */
    return COIO_EINVAL;
  case WSA_NOT_ENOUGH_MEMORY: /* EAI_MEMORY */
    return COIO_ENOMEM;
  default:
    return coio__err_from_win32((unsigned long)rc);
  }
}

/* UTF-8 to a new UTF-16 string (NULL stays NULL). 0, COIO_EINVAL for
 * invalid UTF-8, COIO_ENOMEM. */
static int to_wide(const char *s, wchar_t **out) {
  int n;
  *out = NULL;
  if (!s)
    return 0;
  n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0)
    return COIO_EINVAL;
  *out = malloc((size_t)n * sizeof(wchar_t));
  if (!*out)
    return COIO_ENOMEM;
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, *out, n) != n) {
    free(*out);
    *out = NULL;
    return COIO_EINVAL;
  }
  return 0;
}

/* UTF-16 to UTF-8 in buf (size bytes). 0 or COIO_ERANGE. */
static int to_utf8(const wchar_t *w, char *buf, size_t size) {
  int n;
  if (size == 0)
    return COIO_ERANGE;
  n = WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, size > INT_MAX ? INT_MAX : (int)size, NULL,
                          NULL);
  if (n <= 0) {
    buf[0] = '\0';
    return COIO_ERANGE;
  }
  return 0;
}

/* UTF-16 to a new UTF-8 string. NULL when out of memory. */
static char *utf8_dup(const wchar_t *w) {
  int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
  char *s;
  if (n <= 0)
    return NULL;
  s = malloc((size_t)n);
  if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
    free(s);
    s = NULL;
  }
  return s;
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
  ADDRINFOW h, *res = NULL, *p;
  coio_addrinfo_t *list = NULL, **tail = &list;
  wchar_t *whost = NULL, *wserv = NULL;
  int rc;
  if ((rc = to_wide(host, &whost)) != 0 || (rc = to_wide(service, &wserv)) != 0) {
    free(whost);
    return rc;
  }
  memset(&h, 0, sizeof h);
  h.ai_family = coio__af_to_native(hints->family);
  h.ai_socktype = coio__socktype_to_native(hints->socktype);
  h.ai_protocol = coio__protocol_to_native(hints->protocol);
  h.ai_flags = ai_flags_to_native(hints->flags);
  rc = GetAddrInfoW(whost, wserv, &h, &res);
  free(whost);
  free(wserv);
  if (rc != 0)
    return err_from_gai(rc);
  for (p = res; p; p = p->ai_next) {
    char *canon = NULL;
    if (p == res && p->ai_canonname && !(canon = utf8_dup(p->ai_canonname))) {
      rc = COIO_ENOMEM;
      break;
    }
    rc = coio__addrinfo_append(&tail, p->ai_addr, (size_t)p->ai_addrlen, p->ai_socktype,
                               p->ai_protocol, canon);
    free(canon);
    if (rc != 0)
      break;
  }
  FreeAddrInfoW(res);
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
  wchar_t whost[NI_MAXHOST], wserv[NI_MAXSERV];
  int rc;
  rc = GetNameInfoW((const SOCKADDR *)(const void *)sa->u.bytes, (socklen_t)sa->len,
                    host ? whost : NULL, host ? NI_MAXHOST : 0, serv ? wserv : NULL,
                    serv ? NI_MAXSERV : 0, ni_flags_to_native(flags));
  if (rc != 0)
    return err_from_gai(WSAGetLastError());
  if (host && (rc = to_utf8(whost, host, hostlen)) != 0)
    return rc;
  if (serv && (rc = to_utf8(wserv, serv, servlen)) != 0)
    return rc;
  return 0;
}
