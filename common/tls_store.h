/* common/tls_store.h - the system's trust store, loaded into an OpenSSL
 * SSL_CTX (coio_tls_context_new for clients unless
 * COIO_TLS_NO_DEFAULT_TRUST, and coio_tls_context_load_default_trust).
 *
 * What it loads, per OS:
 * - POSIX (tls_store_posix.c): OpenSSL's default verify paths (what
 *   SSL_CTX_set_default_verify_paths reads): the CA file and hashed
 *   directory OpenSSL was built with (on Debian /usr/lib/ssl/cert.pem and
 *   /usr/lib/ssl/certs, i.e. /etc/ssl/certs), or SSL_CERT_FILE and
 *   SSL_CERT_DIR instead when they are set. The CA file is parsed once per
 *   process (until it changes) and shared by the contexts.
 * - Windows (tls_store_win.c): the certificates of the system's ROOT
 *   stores (trust anchors, with the uses Windows allows them) and CA stores
 *   (intermediates, to complete chains), copied into the SSL_CTX's
 *   X509_STORE; plus SSL_CERT_FILE and SSL_CERT_DIR when set. OpenSSL's
 *   compiled-in default paths are never read on Windows (see the file).
 *
 * Missing or unreadable default locations are not errors (a machine may
 * have no CA bundle, as OpenSSL's own call treats it): the context then
 * trusts nothing more and handshakes fail with COIO_ECERT. */
#ifndef COIO_TLS_STORE_H
#define COIO_TLS_STORE_H

/* ssl_ctx is an OpenSSL SSL_CTX *. Returns 0, COIO_EINVAL (NULL),
 * COIO_ENOMEM, or COIO_ETLS (OpenSSL failed otherwise). */
int coio__tls_store_load_default(void *ssl_ctx);

#endif /* COIO_TLS_STORE_H */
