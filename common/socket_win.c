/* common/socket_win.c - coio_socketpair and friends on Windows, and the
 * coio__socket_* helpers of the transport core (transport_internal.h).
 *
 * Windows has no socketpair(), so the pair is a loopback TCP connection made
 * the way CPython's socket.socketpair does it on Windows, plus its later
 * security fix (gh-122133): a listener on 127.0.0.1:0, a connect, an accept.
 * Between the listen and the accept any local process can connect to the
 * port first, so the accepted socket is checked to be the peer of ours
 * (both address pairs compared); on a mismatch everything is closed and the
 * dance starts again on a fresh port, a few times.
 *
 * Sockets come from WSASocketW with WSA_FLAG_OVERLAPPED, so that an IOCP
 * loop can associate them with its port later, and WSA_FLAG_NO_HANDLE_INHERIT,
 * so that a child process spawned concurrently cannot inherit them
 * (../shared/PITFALLS.md section 2: the handle-inheritance race). Systems
 * before Windows 7 SP1 reject that flag with WSAEINVAL; there the handle is
 * made non-inheritable right after creation. The accepted socket inherits
 * the listener's attributes but the inherit bit is not documented to follow,
 * so it is cleared explicitly (as CPython does for every accept).
 *
 * Both ends get TCP_NODELAY: a socketpair is expected to deliver small
 * writes at once, like AF_UNIX, not to hold them back for Nagle. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <limits.h>
#include <string.h>

#include "coio/net.h"
#include "error_internal.h"
#include "sys.h"
#include "transport_internal.h"

#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif

#define PAIR_ATTEMPTS 4
#define ACCEPT_WAIT_MS 5000 /* our connect already succeeded: it is queued */

static int last_wsa_error(void) { return coio__err_from_win32((unsigned long)WSAGetLastError()); }

static SOCKET new_tcp_socket(void) {
  SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) {
    s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET)
      SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  }
  return s;
}

static void close_quietly(SOCKET *s) {
  if (*s != INVALID_SOCKET) {
    int saved = WSAGetLastError();
    closesocket(*s);
    *s = INVALID_SOCKET;
    WSASetLastError(saved);
  }
}

static int same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b) {
  return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
         a->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* One attempt. 0 and the pair; COIO_ECONNABORTED when someone else's
 * connection was accepted (worth retrying); another COIO_E* otherwise. */
static int pair_attempt(SOCKET out[2]) {
  SOCKET lsock, csock = INVALID_SOCKET, asock = INVALID_SOCKET;
  struct sockaddr_in laddr, caddr, cpeer, apeer, alocal;
  int len, rc = 0, one = 1;
  u_long nonblocking = 1;
  fd_set rfds;
  struct timeval tv;

  lsock = new_tcp_socket();
  if (lsock == INVALID_SOCKET)
    return last_wsa_error();
  memset(&laddr, 0, sizeof laddr);
  laddr.sin_family = AF_INET;
  laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  laddr.sin_port = 0;
  len = (int)sizeof laddr;
  /* Exclusive use: no other socket may bind the same port (SO_REUSEADDR
   * on Windows would let one steal it). */
  if (setsockopt(lsock, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&one, sizeof one) != 0 ||
      bind(lsock, (struct sockaddr *)&laddr, sizeof laddr) != 0 || listen(lsock, 1) != 0 ||
      getsockname(lsock, (struct sockaddr *)&laddr, &len) != 0)
    goto wsa_fail;

  csock = new_tcp_socket();
  if (csock == INVALID_SOCKET)
    goto wsa_fail;
  /* Blocking connect: loopback completes at once, or fails at once. */
  if (connect(csock, (struct sockaddr *)&laddr, sizeof laddr) != 0)
    goto wsa_fail;

  /* Our connection is queued now. Wait for it with a bound anyway, in case
   * it was reset in the queue (accept would then block for good). */
  if (ioctlsocket(lsock, FIONBIO, &nonblocking) != 0)
    goto wsa_fail;
  FD_ZERO(&rfds);
  FD_SET(lsock, &rfds);
  tv.tv_sec = ACCEPT_WAIT_MS / 1000;
  tv.tv_usec = (ACCEPT_WAIT_MS % 1000) * 1000;
  rc = select(0, &rfds, NULL, NULL, &tv);
  if (rc == SOCKET_ERROR)
    goto wsa_fail;
  if (rc == 0) {
    rc = COIO_ETIMEDOUT;
    goto fail;
  }
  len = (int)sizeof apeer;
  asock = accept(lsock, (struct sockaddr *)&apeer, &len);
  if (asock == INVALID_SOCKET) {
    /* WSAEWOULDBLOCK / WSAECONNRESET: the queued connection vanished. */
    rc = WSAGetLastError() == WSAEWOULDBLOCK ? COIO_ECONNABORTED : last_wsa_error();
    goto fail;
  }
  SetHandleInformation((HANDLE)asock, HANDLE_FLAG_INHERIT, 0);

  /* The check (CPython gh-122133): the accepted socket's peer must be our
   * client's local address and the client's peer the accepted local one. */
  len = (int)sizeof caddr;
  if (getsockname(csock, (struct sockaddr *)&caddr, &len) != 0)
    goto wsa_fail;
  len = (int)sizeof cpeer;
  if (getpeername(csock, (struct sockaddr *)&cpeer, &len) != 0)
    goto wsa_fail;
  len = (int)sizeof alocal;
  if (getsockname(asock, (struct sockaddr *)&alocal, &len) != 0)
    goto wsa_fail;
  if (!same_addr(&apeer, &caddr) || !same_addr(&cpeer, &alocal)) {
    rc = COIO_ECONNABORTED;
    goto fail;
  }

  if (ioctlsocket(asock, FIONBIO, &nonblocking) != 0 ||
      ioctlsocket(csock, FIONBIO, &nonblocking) != 0)
    goto wsa_fail;
  /* Best effort: a pair without it still works, only slower. */
  setsockopt(asock, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
  setsockopt(csock, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
  closesocket(lsock);
  out[0] = csock;
  out[1] = asock;
  return 0;

wsa_fail:
  rc = last_wsa_error();
fail:
  close_quietly(&asock);
  close_quietly(&csock);
  close_quietly(&lsock);
  return rc;
}

int coio_socketpair(coio_socket_t pair[2]) {
  SOCKET s[2];
  int rc, attempt;
  if (!pair)
    return COIO_EINVAL;
  if ((rc = coio__os_init()) != 0)
    return rc;
  for (attempt = 0; attempt < PAIR_ATTEMPTS; attempt++) {
    rc = pair_attempt(s);
    if (rc == 0) {
      pair[0] = (coio_socket_t)s[0];
      pair[1] = (coio_socket_t)s[1];
      return 0;
    }
    if (rc != COIO_ECONNABORTED)
      break;
  }
  return rc;
}

int coio_socket_close(coio_socket_t sock) {
  if (sock == COIO_INVALID_SOCKET)
    return COIO_EBADF;
  if (closesocket((SOCKET)sock) != 0)
    return last_wsa_error();
  return 0;
}

/* send/recv take an int length: a larger request is clamped, which is
 * allowed, since both report how much they did. */
static int clamp_len(size_t len) { return len > INT_MAX ? INT_MAX : (int)len; }

long coio_socket_send(coio_socket_t sock, const void *buf, size_t len) {
  int n;
  if (!buf && len)
    return COIO_EINVAL;
  n = send((SOCKET)sock, (const char *)buf, clamp_len(len), 0);
  return n == SOCKET_ERROR ? last_wsa_error() : (long)n;
}

long coio_socket_recv(coio_socket_t sock, void *buf, size_t len) {
  int n;
  if (!buf && len)
    return COIO_EINVAL;
  n = recv((SOCKET)sock, (char *)buf, clamp_len(len), 0);
  return n == SOCKET_ERROR ? last_wsa_error() : (long)n;
}

/* ---- what the transport core needs (transport_internal.h) ------------------
 *
 * Every socket is made by WSASocketW with WSA_FLAG_OVERLAPPED (an IOCP loop
 * associates it with its port and starts overlapped operations on it) and
 * WSA_FLAG_NO_HANDLE_INHERIT (PITFALLS section 2: the inheritance race), and
 * is non-blocking (a selector-style caller may use it with plain calls;
 * overlapped operations do not care). Stream sockets get TCP_NODELAY, as
 * asyncio gives every TCP transport. */

static int os_family(int family) {
  switch (family) {
  case COIO_AF_INET:
    return AF_INET;
  case COIO_AF_INET6:
    return AF_INET6;
  default:
    return -1;
  }
}

/* Not in every SDK header (mingw-w64 has the first in mswsock.h, the
 * Windows SDK in mstcpip.h; the second only newer SDKs). */
#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#ifndef SIO_UDP_NETRESET
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
#endif

/* PITFALLS section 1 (KB 263823, cpython#91227): by default an ICMP "port
 * unreachable" answering one of our datagrams makes the *next receive* on
 * the socket fail with WSAECONNRESET (an IOCP receive with
 * ERROR_PORT_UNREACHABLE), which would end a datagram endpoint's receive
 * loop for a message to an unrelated peer. Turned off here, once, as
 * libuv and CPython do; the proactor driver still treats those codes on a
 * datagram receive as non-fatal in case the ioctl is refused. NETRESET
 * (TTL expired) is the same trap on newer systems; older ones reject the
 * ioctl, which is fine. Wine accepts both and never reports the error,
 * so this path cannot be observed there. */
static void udp_no_connreset(SOCKET s) {
  BOOL off = FALSE;
  DWORD bytes = 0;
  WSAIoctl(s, SIO_UDP_CONNRESET, &off, sizeof off, NULL, 0, &bytes, NULL, NULL);
  WSAIoctl(s, SIO_UDP_NETRESET, &off, sizeof off, NULL, 0, &bytes, NULL, NULL);
}

int coio__socket_set_nonblocking(coio_socket_t fd) {
  u_long nonblocking = 1;
  if (ioctlsocket((SOCKET)fd, FIONBIO, &nonblocking) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_open(int family, int socktype, coio_socket_t *out) {
  int fam = os_family(family), rc;
  int type = socktype == COIO_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
  int proto = type == SOCK_DGRAM ? IPPROTO_UDP : IPPROTO_TCP;
  u_long nonblocking = 1;
  SOCKET s;
  if (fam < 0)
    return COIO_EAFNOSUPPORT;
  if ((rc = coio__os_init()) != 0)
    return rc;
  s = WSASocketW(fam, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET && WSAGetLastError() == WSAEINVAL) { /* before 7 SP1 */
    s = WSASocketW(fam, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET)
      SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
  }
  if (s == INVALID_SOCKET)
    return last_wsa_error();
  if (ioctlsocket(s, FIONBIO, &nonblocking) != 0) {
    rc = last_wsa_error();
    closesocket(s);
    return rc;
  }
  if (type == SOCK_STREAM) {
    int one = 1; /* best effort, as on POSIX */
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
  } else {
    udp_no_connreset(s);
  }
  *out = (coio_socket_t)s;
  return 0;
}

int coio__socket_bind(coio_socket_t fd, const coio_sockaddr_t *addr) {
  if (bind((SOCKET)fd, (const struct sockaddr *)addr->u.bytes, (int)addr->len) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_listen(coio_socket_t fd, int backlog) {
  if (listen((SOCKET)fd, backlog) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_name(coio_socket_t fd, coio_sockaddr_t *addr) {
  int len = (int)sizeof addr->u.bytes;
  if (getsockname((SOCKET)fd, (struct sockaddr *)addr->u.bytes, &len) != 0) {
    addr->len = 0;
    return last_wsa_error();
  }
  addr->len = (uint32_t)len;
  return 0;
}

int coio__socket_peer(coio_socket_t fd, coio_sockaddr_t *addr) {
  int len = (int)sizeof addr->u.bytes;
  if (getpeername((SOCKET)fd, (struct sockaddr *)addr->u.bytes, &len) != 0) {
    addr->len = 0;
    return last_wsa_error();
  }
  addr->len = (uint32_t)len;
  return 0;
}

/* reuse_address on Windows. SO_REUSEADDR there is not the POSIX option: it
 * lets *another* socket bind the very same address and port, even one
 * already listening, and take over its connections (MS "Using
 * SO_REUSEADDR and SO_EXCLUSIVEADDRUSE"). What POSIX servers want from
 * SO_REUSEADDR, rebinding a port whose old connections sit in TIME_WAIT,
 * Windows already allows by default. So, as CPython's socket.create_server
 * and asyncio's default on Windows, coio never sets SO_REUSEADDR:
 *   reuse_address  1 or 0 (default): nothing to set, the Windows default
 *                  already is "restart over TIME_WAIT";
 *   reuse_address -1 (off): SO_EXCLUSIVEADDRUSE, the strict opposite: no
 *                  other socket may bind the port at all, and (like a
 *                  POSIX bind without SO_REUSEADDR) the bind fails while
 *                  connections of an earlier listener linger.
 * reuse_port: Windows has no SO_REUSEPORT (load-balanced listeners);
 * COIO_ENOTSUP, as asyncio refuses it there. Checked first, so that a
 * refused call changes nothing. */
int coio__socket_set_reuse(coio_socket_t fd, int reuse_address, int reuse_port) {
  int on = 1;
  if (reuse_port)
    return COIO_ENOTSUP;
  if (reuse_address < 0 &&
      setsockopt((SOCKET)fd, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&on, sizeof on) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_set_v6only(coio_socket_t fd, int on) {
  DWORD v = on ? 1 : 0; /* already on by default on Windows; set anyway */
  if (setsockopt((SOCKET)fd, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v, sizeof v) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_set_broadcast(coio_socket_t fd, int on) {
  BOOL v = on ? TRUE : FALSE;
  if (setsockopt((SOCKET)fd, SOL_SOCKET, SO_BROADCAST, (const char *)&v, sizeof v) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_connect_now(coio_socket_t fd, const coio_sockaddr_t *addr) {
  /* datagram sockets: connect only records the peer, it never blocks */
  if (connect((SOCKET)fd, (const struct sockaddr *)addr->u.bytes, (int)addr->len) != 0)
    return last_wsa_error();
  return 0;
}

int coio__socket_error(coio_socket_t fd) {
  int err = 0, len = (int)sizeof err;
  if (getsockopt((SOCKET)fd, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
    return last_wsa_error();
  return coio__err_from_win32((unsigned long)err);
}

int coio__socket_shutdown_write(coio_socket_t fd) {
  /* The socket of a ConnectEx / AcceptEx needs its UPDATE_*_CONTEXT first
   * (the IOCP backend does it at completion), else this fails on Windows. */
  if (shutdown((SOCKET)fd, SD_SEND) != 0)
    return last_wsa_error();
  return 0;
}
