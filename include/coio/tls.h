/* coio/tls.h - TLS (asyncio's ssl= on create_connection / create_server /
 * open_connection / start_server, loop.start_tls and StreamWriter.start_tls),
 * with OpenSSL, the same on IOCP, epoll and io_uring.
 *
 * TLS is a layer over any stream transport (as asyncio's sslproto): OpenSSL
 * runs over memory BIOs and the plain transport below moves the records, so a
 * protocol or a stream above cannot tell a TLS transport from a plain one:
 * the coio_transport_* calls work on both (write buffering and flow control,
 * pause_reading, close, abort). Differences a protocol can see: write_eof is
 * refused (COIO_ENOTSUP, can_write_eof 0: TLS 1.2 has no half-close); close
 * sends close_notify and waits (up to the shutdown timeout) for the peer's
 * (no answer in time: connection_lost(COIO_ETIMEDOUT)); a connection cut
 * without close_notify is lost with COIO_ETLSTRUNCATED, not a clean EOF;
 * the peer's close_notify is EOF, after which the transport closes whatever
 * eof_received answers (TLS has no half-close). connection_lost runs once
 * the plain transport below is closed too (asyncio's order).
 *
 * Errors: a handshake failure fails the creating call's future (the
 * connection is closed, connection_made never runs) with a code and
 * OpenSSL's reason in the future's message (coio_future_error_message):
 * COIO_ECERT (unknown CA, bad chain, untrusted), COIO_ECERTEXPIRED,
 * COIO_ECERTHOST (the certificate does not name server_hostname),
 * COIO_ETLSVERSION (no protocol version or cipher in common), COIO_ETLS
 * (any other protocol error: garbage, plain HTTP to a TLS port, an alert),
 * COIO_ETIMEDOUT (the handshake timeout), COIO_ECONNRESET (the peer closed
 * the connection during the handshake). A failed call resolves once that
 * connection is closed (the alert, if any, sent). After the handshake,
 * errors reach connection_lost as codes (a TLS 1.3 client learns that the
 * server refused its certificate only then: COIO_ECERT). Servers drop
 * clients whose handshake fails: the factory is asked for a protocol only
 * after a handshake succeeded, so its protocols never see the others
 * (coio_server_wait_closed and close_clients count them, though).
 *
 * Built without OpenSSL (COIO_WITH_TLS=OFF), every call here answers
 * COIO_ENOTSUP and coio_tls_available() is 0. */
#ifndef COIO_TLS_H
#define COIO_TLS_H

#include "stream.h"

COIO_BEGIN_DECLS

typedef struct coio_tls_context coio_tls_context_t; /* the struct named in transport.h */

/* 1 when this build has TLS. */
COIO_API int coio_tls_available(void);

enum coio_tls_side { COIO_TLS_CLIENT = 0, COIO_TLS_SERVER = 1 };
enum coio_tls_version { COIO_TLS_1_2 = 0x0303, COIO_TLS_1_3 = 0x0304 };
enum coio_tls_verify {
  COIO_TLS_VERIFY_NONE = 0,    /* no certificate checks (client: insecure) */
  COIO_TLS_VERIFY_OPTIONAL = 1,/* server: ask for a client certificate, check it if sent */
  COIO_TLS_VERIFY_REQUIRED = 2 /* client: the default; server: require a client certificate */
};
/* coio_tls_context_new flags */
enum { COIO_TLS_NO_DEFAULT_TRUST = 1 /* client: do not load the system trust store */ };

/* A context with secure defaults (asyncio's ssl.create_default_context):
 * TLS 1.2 at least, compression and renegotiation off; a client verifies
 * the peer's certificate and host name and trusts the system's store (on
 * POSIX OpenSSL's default paths, honouring SSL_CERT_FILE and SSL_CERT_DIR;
 * on Windows the ROOT certificate store as well) unless
 * COIO_TLS_NO_DEFAULT_TRUST. A client reuses sessions on its own (a cache
 * in the context, keyed by server name and port). Contexts are reference
 * counted and immutable in practice once a connection uses them (change
 * settings before); a connection holds a reference. Not thread safe. */
COIO_API int coio_tls_context_new(int side, unsigned flags, coio_tls_context_t **out);
COIO_API void coio_tls_context_ref(coio_tls_context_t *ctx);
COIO_API void coio_tls_context_unref(coio_tls_context_t *ctx);

/* The certificate chain (leaf first) and its private key, PEM. keyfile may
 * be NULL when certfile holds the key too; password may be NULL. */
COIO_API int coio_tls_context_load_cert_chain(coio_tls_context_t *ctx, const char *certfile,
                                              const char *keyfile, const char *password);
COIO_API int coio_tls_context_load_cert_chain_mem(coio_tls_context_t *ctx, const void *cert_pem,
                                                  size_t cert_len, const void *key_pem,
                                                  size_t key_len, const char *password);
/* Trusted CAs: a PEM file and/or a hashed directory, or PEM in memory. */
COIO_API int coio_tls_context_load_verify_locations(coio_tls_context_t *ctx, const char *cafile,
                                                    const char *capath);
COIO_API int coio_tls_context_load_verify_mem(coio_tls_context_t *ctx, const void *pem,
                                              size_t len);
/* The system's trust store (see coio_tls_context_new). */
COIO_API int coio_tls_context_load_default_trust(coio_tls_context_t *ctx);

COIO_API int coio_tls_context_set_verify(coio_tls_context_t *ctx, int verify);
/* Client: check the certificate names server_hostname (default on; needs
 * VERIFY_REQUIRED). */
COIO_API int coio_tls_context_set_check_hostname(coio_tls_context_t *ctx, int on);
/* min/max: COIO_TLS_1_2, COIO_TLS_1_3; 0 for no upper bound. */
COIO_API int coio_tls_context_set_versions(coio_tls_context_t *ctx, int min, int max);
/* OpenSSL cipher strings: TLS 1.2 list, TLS 1.3 suites (NULL: unchanged). */
COIO_API int coio_tls_context_set_ciphers(coio_tls_context_t *ctx, const char *tls12,
                                          const char *tls13);
/* ALPN: the protocols in order of preference ("h2", "http/1.1"): offered by
 * a client, chosen from by a server (no overlap: the handshake fails). */
COIO_API int coio_tls_context_set_alpn(coio_tls_context_t *ctx, const char *const *protos,
                                       size_t n);

/* Server: called during the handshake with the name the client sent (NULL
 * without SNI); set *use to another server context to serve this
 * connection with it (or leave it), return 0 to go on or an error code to
 * refuse the connection (as asyncio's sni_callback). */
typedef int (*coio_tls_sni_cb)(const char *server_name, coio_tls_context_t **use,
                               void *user_data);
COIO_API int coio_tls_context_set_sni_callback(coio_tls_context_t *ctx, coio_tls_sni_cb cb,
                                               void *user_data);

/* The OpenSSL SSL_CTX *, for settings coio has no call for. */
COIO_API void *coio_tls_context_native(coio_tls_context_t *ctx);

/* ---- per connection ------------------------------------------------------------ */

/* TLS settings of one connection (start_tls; create_connection and
 * create_server take the same in their own options). A zeroed struct gives
 * the defaults. */
typedef struct coio_tls_options {
  int server_side;             /* 1: this end is the TLS server */
  const char *server_hostname; /* client: SNI and the name checked (NULL: no SNI, and
                                  then host name checking must be off) */
  double handshake_timeout;    /* seconds; 0: 60 */
  double shutdown_timeout;     /* seconds; 0: 30 */
} coio_tls_options_t;

/* asyncio's loop.start_tls: upgrades a live stream transport (no read may
 * be pending in the protocol's mind: from this call on, data that arrives
 * is not lost, it is fed to TLS; bytes the old protocol received before
 * are its own). The plain transport is taken over at once (do not use it
 * any more: its old protocol is not called again, even if the handshake
 * fails, which closes it); the future's value is the new TLS transport,
 * set after the handshake, whose protocol is proto/user_data
 * (connection_made is not called again: asyncio's start_tls does not).
 * COIO_EINVAL: a datagram, pipe or TLS transport, a context of the wrong
 * side; COIO_ECLOSED: the transport is closing. */
COIO_API int coio_start_tls(coio_transport_t *t, const coio_protocol_t *proto, void *user_data,
                            coio_tls_context_t *ctx, const coio_tls_options_t *opts,
                            coio_future_t **out);

/* (task) StreamWriter.start_tls: drains, then upgrades the stream in place
 * (STARTTLS); the reader and writer stay the same objects. Bytes already
 * buffered in the reader stay there (they were plain text). While the
 * handshake runs, writes answer COIO_EBUSY. On failure the stream's
 * connection is lost with that error (later calls report it). */
COIO_API int coio_stream_start_tls(coio_stream_writer_t *w, coio_tls_context_t *ctx,
                                   const coio_tls_options_t *opts);

/* get_extra_info, valid until connection_lost returned. On a plain
 * transport: 0 / NULL. */
COIO_API int coio_transport_is_tls(const coio_transport_t *t);
COIO_API const char *coio_transport_tls_version(const coio_transport_t *t); /* "TLSv1.3" */
COIO_API const char *coio_transport_tls_cipher(const coio_transport_t *t);
/* NULL: none; the string is valid until the next call on this thread. */
COIO_API const char *coio_transport_tls_alpn(const coio_transport_t *t);
/* SNI: the name a client sent (NULL: none); on a client, the name it sent. */
COIO_API const char *coio_transport_tls_server_name(const coio_transport_t *t);
COIO_API int coio_transport_tls_session_reused(const coio_transport_t *t); /* 1 or 0 */
/* The peer's certificate, DER, malloc'd (free with coio_stream_data_free);
 * COIO_ENOENT when the peer sent none, COIO_EINVAL for a plain transport. */
COIO_API int coio_transport_tls_peer_certificate(const coio_transport_t *t, void **der,
                                                 size_t *len);
/* The OpenSSL SSL *, or NULL. */
COIO_API void *coio_transport_tls_native(const coio_transport_t *t);

COIO_END_DECLS

#endif /* COIO_TLS_H */
