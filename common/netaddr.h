/* common/netaddr.h - the platform's socket address headers, and what
 * dns.c shares with the resolver of each OS (dns_posix.c, dns_win.c). */
#ifndef COIO_COMMON_NETADDR_H
#define COIO_COMMON_NETADDR_H

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include "coio/dns.h"

/* ---- dns.c: coio's constants <-> the platform's ------------------------- */

/* The native AF_*, SOCK_*, IPPROTO_* value, or -1 for a value coio does
 * not define. */
int coio__af_to_native(int family);
int coio__socktype_to_native(int socktype);
int coio__protocol_to_native(int protocol);
/* coio's value, or 0 (unknown to coio). */
int coio__af_from_native(int af);
int coio__socktype_from_native(int socktype);
int coio__protocol_from_native(int protocol);

/* Appends an entry to a list being built (*tail points at the last next
 * pointer). addr is copied; canonname (UTF-8, may be NULL) too. Entries of
 * another family than IPv4/IPv6 are skipped (0). 0 or COIO_ENOMEM. */
int coio__addrinfo_append(coio_addrinfo_t ***tail, const struct sockaddr *addr, size_t addrlen,
                          int socktype, int protocol, const char *canonname);

/* ---- dns_posix.c / dns_win.c: the blocking system calls ------------------ */

/* getaddrinfo with coio's hints (already validated); the list in *out. 0 or
 * a COIO_E* code (see dns.h). Any thread. */
int coio__dns_getaddrinfo(const char *host, const char *service, const coio_addrinfo_hints_t *hints,
                          coio_addrinfo_t **out);

/* getnameinfo with coio's flags (already validated) into the two buffers.
 * 0 or a COIO_E* code. Any thread. */
int coio__dns_getnameinfo(const coio_sockaddr_t *sa, int flags, char *host, size_t hostlen,
                          char *serv, size_t servlen);

#endif
