/* common/socket_win.c - coio_socketpair and friends on Windows.
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
