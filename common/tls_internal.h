/* common/tls_internal.h - TLS inside coio (built only with OpenSSL:
 * COIO_HAVE_OPENSSL), in three layers:
 *   tls_context.c    coio_tls_context_t: an SSL_CTX with secure defaults, ALPN,
 *                    SNI, the client's session cache
 *   tls_engine.c     the engine: one SSL over two memory BIOs, fed with the
 *                    records that arrived and drained of those to send; knows
 *                    nothing of transports or loops, so tests and the fuzz
 *                    target (tests/fuzz/fuzz_tls.c) drive it without sockets
 *   tls_transport.c  the glue: a TLS transport is an ordinary core transport
 *                    whose driver is the engine over a plain transport below
 * Without OpenSSL, tls_none.c answers COIO_ENOTSUP. */
#ifndef COIO_COMMON_TLS_INTERNAL_H
#define COIO_COMMON_TLS_INTERNAL_H

#include "coio/tls.h"
#include "transport_internal.h"

/* ---- what connect.c, server.c and stream.c call (tls_transport.c, or
 * tls_none.c without OpenSSL) ----------------------------------------------- */

/* (task) The client side of create_connection: makes the plain transport
 * for the connected fd, runs the handshake, then the TLS transport with
 * proto/user_data (connection_made ran) in *result. *fd_taken tells
 * whether fd is the transport's now (else still the caller's). Errors
 * carry OpenSSL's reason as the task's message (coio_task_error). */
int coio__tls_client(coio_loop_t *loop, coio_socket_t fd, const coio_connect_options_t *opts,
                     const char *host, const coio_protocol_t *proto, void *user_data,
                     int *fd_taken, void **result);
/* server.c: a connection accepted by a TLS server: handshake first, then
 * the factory's protocol. Takes fd in every case. */
void coio__tls_accepted(struct coio_server *s, coio_socket_t fd);
/* 0, or COIO_EINVAL when ctx is not a context of that side. */
int coio__tls_check_context(coio_tls_context_t *ctx, int side);

#ifdef COIO_HAVE_OPENSSL
#include <openssl/ssl.h>

/* ---- contexts (tls_context.c) ---------------------------------------------- */

typedef struct coio__tls_session {
  char *key; /* "server name|port" */
  SSL_SESSION *sess;
  struct coio__tls_session *next;
} coio__tls_session_t;

struct coio_tls_context {
  long refs;
  SSL_CTX *ctx;
  int side;
  int verify;
  int check_hostname;
  coio_tls_sni_cb sni_cb;
  void *sni_data;
  unsigned char *alpn; /* the wire form: length-prefixed names */
  size_t alpn_len;
  coio__tls_session_t *sessions; /* client: most recent first */
  size_t nsessions;
};

/* The session the client cache holds for key (a new reference), or NULL. */
SSL_SESSION *coio__tls_session_get(coio_tls_context_t *ctx, const char *key);

/* ---- the engine (tls_engine.c) ----------------------------------------------- */

enum { COIO__TLS_HANDSHAKE, COIO__TLS_OPEN, COIO__TLS_CLOSED, COIO__TLS_FAILED };

typedef struct coio__tls_engine {
  SSL *ssl;
  BIO *in, *out; /* records received (for OpenSSL to read) / to send */
  coio_tls_context_t *ctx; /* a reference */
  int state;               /* COIO__TLS_* */
  char *session_key;       /* client: its key in ctx's session cache */
  char msg[256];           /* the last error's reason */
} coio__tls_engine_t;

/* A client (server 0: hostname is sent as SNI unless it is an IP address,
 * and checked when ctx says so; session_key may be NULL: no resumption)
 * or server engine. 0, COIO_EINVAL (a client checking host names without
 * one), COIO_ENOMEM, COIO_ETLS. */
int coio__tls_engine_init(coio__tls_engine_t *e, coio_tls_context_t *ctx, int server,
                          const char *hostname, const char *session_key);
void coio__tls_engine_fini(coio__tls_engine_t *e);
/* Records from the network (copied). 0 or COIO_ENOMEM. */
int coio__tls_engine_feed(coio__tls_engine_t *e, const void *data, size_t n);
/* The network said EOF: no more records. */
void coio__tls_engine_feed_eof(coio__tls_engine_t *e);
/* Advances the handshake: 1 done, 0 wants more records, or the error code
 * (COIO_ECERT..., reason in e->msg; the state is FAILED). */
int coio__tls_engine_handshake(coio__tls_engine_t *e);
/* Decrypts into buf: 0 with *got bytes (0: wants more records), 1 when the
 * peer's close_notify came (state CLOSED), or an error code (e->msg). */
int coio__tls_engine_read(coio__tls_engine_t *e, void *buf, size_t len, size_t *got);
/* Encrypts up to len bytes (at most one record's worth is taken per call):
 * 0 with *done, or an error code. */
int coio__tls_engine_write(coio__tls_engine_t *e, const void *buf, size_t len, size_t *done);
/* Sends close_notify (once): 1 when the peer's came too, 0 while it has
 * not, or an error code. */
int coio__tls_engine_shutdown(coio__tls_engine_t *e);
/* The records waiting to be sent: their length and *p (valid until the
 * next engine call); out_clear drops them once sent. */
size_t coio__tls_engine_out(coio__tls_engine_t *e, const void **p);
void coio__tls_engine_out_clear(coio__tls_engine_t *e);
/* Bytes fed and not yet processed. */
size_t coio__tls_engine_in_pending(coio__tls_engine_t *e);

#endif /* COIO_HAVE_OPENSSL */

#endif
