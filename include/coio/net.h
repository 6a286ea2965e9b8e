/* coio/net.h - sockets. */
#ifndef COIO_NET_H
#define COIO_NET_H

#include "platform.h"

COIO_BEGIN_DECLS

/* A connected pair of stream sockets, both non-blocking and not inherited
 * by child processes. On POSIX an AF_UNIX socketpair; on Windows (which has
 * none) a loopback TCP pair whose accepted end is checked to be the peer of
 * the connecting end, created overlapped so IOCP can use it. */
COIO_API int coio_socketpair(coio_socket_t pair[2]);

/* Closes a socket made by coio. */
COIO_API int coio_socket_close(coio_socket_t sock);

/* Blocking-free helpers for tests and examples: send/recv once on a
 * non-blocking socket. Return the byte count, or a negative COIO_E* code
 * (COIO_EAGAIN when it would block). */
COIO_API long coio_socket_send(coio_socket_t sock, const void *buf, size_t len);
COIO_API long coio_socket_recv(coio_socket_t sock, void *buf, size_t len);

/* ---- pipes ----------------------------------------------------------------
 * A pipe end is not a socket: an int file descriptor on POSIX, a HANDLE on
 * Windows (declared void * so that no Windows header is needed). */
#ifdef _WIN32
typedef void *coio_pipe_t; /* HANDLE */
#define COIO_INVALID_PIPE ((coio_pipe_t)(intptr_t)-1) /* INVALID_HANDLE_VALUE */
#else
typedef int coio_pipe_t; /* a file descriptor */
#define COIO_INVALID_PIPE (-1)
#endif

/* Flags of coio_pipe_open: make that end blocking (POSIX: no O_NONBLOCK;
 * Windows: opened without FILE_FLAG_OVERLAPPED), as a child process
 * expects its standard handles. Such an end cannot be used by a loop. */
enum { COIO_PIPE_READ_BLOCKING = 1, COIO_PIPE_WRITE_BLOCKING = 2 };

/* A one-way pipe: ends[0] is the read end, ends[1] the write end, neither
 * inherited by child processes (a spawner makes its child's end
 * inheritable itself). POSIX: pipe2(O_CLOEXEC | O_NONBLOCK). Windows:
 * anonymous pipes cannot do overlapped I/O, so this is a named pipe with a
 * unique name (process id, counter, random), as CPython's
 * windows_utils.pipe does; the read end is the server instance (made with
 * FILE_FLAG_FIRST_PIPE_INSTANCE and PIPE_REJECT_REMOTE_CLIENTS), both ends
 * overlapped unless a *_BLOCKING flag says otherwise. 0 or a COIO_E* code. */
COIO_API int coio_pipe_open(coio_pipe_t ends[2], int flags);
/* Closes a pipe end (close / CloseHandle). */
COIO_API int coio_pipe_close(coio_pipe_t end);

/* ---- addresses ------------------------------------------------------------
 * Portable constants: coio's own values, converted to the platform's by
 * every coio call (they are not the AF_* / SOCK_* numbers of any system). */
enum {
  COIO_AF_UNSPEC = 0, /* any family (hints), or no address */
  COIO_AF_UNIX = 1,   /* Unix domain (POSIX): a path or an abstract name */
  COIO_AF_INET = 4,   /* IPv4 */
  COIO_AF_INET6 = 6   /* IPv6 */
};
enum {
  COIO_SOCK_ANY = 0,
  COIO_SOCK_STREAM = 1,
  COIO_SOCK_DGRAM = 2
};
enum {
  COIO_IPPROTO_ANY = 0,
  COIO_IPPROTO_TCP = 6,
  COIO_IPPROTO_UDP = 17
};

/* Bytes that hold any socket address coio makes (sockaddr_storage). */
#define COIO_SOCKADDR_SIZE 128
/* A buffer this long holds any numeric address coio_sockaddr_to_string
 * writes, with an IPv6 scope and the terminating NUL. */
#define COIO_SOCKADDR_STRLEN 64

/* A socket address: the platform's own struct sockaddr_in or sockaddr_in6
 * in u.bytes (aligned as sockaddr_storage), len bytes of it used; len 0 is
 * "no address". Pass `(struct sockaddr *)sa.u.bytes, sa.len` to socket
 * calls. A plain value: copy it freely. */
typedef struct coio_sockaddr {
  union {
    unsigned char bytes[COIO_SOCKADDR_SIZE];
    uint64_t align_; /* alignment only */
  } u;
  uint32_t len;
} coio_sockaddr_t;

/* Parses a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "fe80::1%eth0")
 * address and a port (0..65535) into *sa, as getaddrinfo with
 * AI_NUMERICHOST does (so the short IPv4 forms such as "127.1" pass too).
 * Never resolves names (no I/O, any thread). COIO_EINVAL for NULL, a port out of range or a string that
 * is not a numeric address (*sa is then cleared). */
COIO_API int coio_sockaddr_from_string(coio_sockaddr_t *sa, const char *ip, int port);

/* Writes the numeric host part of sa ("::1", no port, no brackets) into
 * buf. 0; COIO_EINVAL for NULL or an empty address, COIO_EAFNOSUPPORT for
 * a family coio does not know, COIO_ERANGE if size is too small (use
 * COIO_SOCKADDR_STRLEN). Any thread. */
COIO_API int coio_sockaddr_to_string(const coio_sockaddr_t *sa, char *buf, size_t size);

/* A Unix domain socket address (struct sockaddr_un, which fits in
 * COIO_SOCKADDR_SIZE). path is a file system path, or, with a leading '@',
 * a Linux abstract name (the '@' stands for the leading NUL byte). 0;
 * COIO_EINVAL for NULL or an empty path; when it does not
 * fit sun_path (107 bytes plus the NUL on Linux: COIO_ERANGE), COIO_EAFNOSUPPORT on
 * Windows (coio has no AF_UNIX there yet). Any thread. */
COIO_API int coio_sockaddr_from_unix(coio_sockaddr_t *sa, const char *path);
/* The same from len bytes: name[0] == '\0' or '@' makes an abstract name
 * (whose remaining bytes may hold NULs); otherwise a path. */
COIO_API int coio_sockaddr_from_unix_n(coio_sockaddr_t *sa, const char *name, size_t len);

/* COIO_AF_INET, COIO_AF_INET6, COIO_AF_UNIX, or COIO_AF_UNSPEC (NULL,
 * empty, other). */
COIO_API int coio_sockaddr_family(const coio_sockaddr_t *sa);

/* The port (0..65535) of an IPv4 or IPv6 address; COIO_EINVAL for NULL,
 * COIO_EAFNOSUPPORT for another family. */
COIO_API int coio_sockaddr_port(const coio_sockaddr_t *sa);

/* Sets the port (0..65535, else COIO_EINVAL) of an IPv4 or IPv6 address;
 * COIO_EAFNOSUPPORT for another family. */
COIO_API int coio_sockaddr_set_port(coio_sockaddr_t *sa, int port);

/* ---- address lists (getaddrinfo results, see dns.h) ---------------------- */

/* Flags for coio_addrinfo_hints_t.flags (the AI_* flags). */
enum {
  COIO_AI_PASSIVE = 1,     /* NULL host: the wildcard address, for bind */
  COIO_AI_CANONNAME = 2,   /* fill the first entry's canonname */
  COIO_AI_NUMERICHOST = 4, /* host must be numeric: never resolve */
  COIO_AI_NUMERICSERV = 8, /* service must be a port number */
  COIO_AI_ADDRCONFIG = 16  /* only families configured on this host */
};

/* What to look for; zero-initialised means any family, any type. */
typedef struct coio_addrinfo_hints {
  int family;   /* COIO_AF_* */
  int socktype; /* COIO_SOCK_* */
  int protocol; /* COIO_IPPROTO_* */
  int flags;    /* COIO_AI_* */
} coio_addrinfo_hints_t;

/* One resolved address, in a singly linked list (struct addrinfo). */
typedef struct coio_addrinfo {
  struct coio_addrinfo *next;
  int family;      /* COIO_AF_INET or COIO_AF_INET6 */
  int socktype;    /* COIO_SOCK_*, 0 if the system did not say */
  int protocol;    /* COIO_IPPROTO_*, 0 if the system did not say */
  char *canonname; /* UTF-8; the first entry only, with COIO_AI_CANONNAME */
  coio_sockaddr_t addr;
} coio_addrinfo_t;

/* Frees ai and every entry after it. NULL is a no-op. A list owned by a
 * future (coio_getaddrinfo) is freed with the future instead. */
COIO_API void coio_addrinfo_free(coio_addrinfo_t *ai);

COIO_END_DECLS

#endif /* COIO_NET_H */
