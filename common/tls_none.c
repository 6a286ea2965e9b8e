/* common/tls_none.c - a build without OpenSSL (COIO_WITH_TLS=OFF, or
 * OpenSSL not found): every TLS call answers COIO_ENOTSUP (coio/tls.h), and
 * a connection or server asked for TLS fails with it. */
#include <stddef.h>

#include "coio/error.h"
#include "tls_internal.h"

int coio_tls_available(void) { return 0; }

int coio_tls_context_new(int side, unsigned flags, coio_tls_context_t **out) {
  (void)side;
  (void)flags;
  if (out)
    *out = NULL;
  return COIO_ENOTSUP;
}

void coio_tls_context_ref(coio_tls_context_t *ctx) { (void)ctx; }
void coio_tls_context_unref(coio_tls_context_t *ctx) { (void)ctx; }

int coio_tls_context_load_cert_chain(coio_tls_context_t *ctx, const char *certfile,
                                     const char *keyfile, const char *password) {
  (void)ctx, (void)certfile, (void)keyfile, (void)password;
  return COIO_ENOTSUP;
}

int coio_tls_context_load_cert_chain_mem(coio_tls_context_t *ctx, const void *cert_pem,
                                         size_t cert_len, const void *key_pem, size_t key_len,
                                         const char *password) {
  (void)ctx, (void)cert_pem, (void)cert_len, (void)key_pem, (void)key_len, (void)password;
  return COIO_ENOTSUP;
}

int coio_tls_context_load_verify_locations(coio_tls_context_t *ctx, const char *cafile,
                                           const char *capath) {
  (void)ctx, (void)cafile, (void)capath;
  return COIO_ENOTSUP;
}

int coio_tls_context_load_verify_mem(coio_tls_context_t *ctx, const void *pem, size_t len) {
  (void)ctx, (void)pem, (void)len;
  return COIO_ENOTSUP;
}

int coio_tls_context_load_default_trust(coio_tls_context_t *ctx) {
  (void)ctx;
  return COIO_ENOTSUP;
}

int coio_tls_context_set_verify(coio_tls_context_t *ctx, int verify) {
  (void)ctx, (void)verify;
  return COIO_ENOTSUP;
}

int coio_tls_context_set_check_hostname(coio_tls_context_t *ctx, int on) {
  (void)ctx, (void)on;
  return COIO_ENOTSUP;
}

int coio_tls_context_set_versions(coio_tls_context_t *ctx, int min, int max) {
  (void)ctx, (void)min, (void)max;
  return COIO_ENOTSUP;
}

int coio_tls_context_set_ciphers(coio_tls_context_t *ctx, const char *tls12, const char *tls13) {
  (void)ctx, (void)tls12, (void)tls13;
  return COIO_ENOTSUP;
}

int coio_tls_context_set_alpn(coio_tls_context_t *ctx, const char *const *protos, size_t n) {
  (void)ctx, (void)protos, (void)n;
  return COIO_ENOTSUP;
}

int coio_tls_context_set_sni_callback(coio_tls_context_t *ctx, coio_tls_sni_cb cb,
                                      void *user_data) {
  (void)ctx, (void)cb, (void)user_data;
  return COIO_ENOTSUP;
}

void *coio_tls_context_native(coio_tls_context_t *ctx) {
  (void)ctx;
  return NULL;
}

int coio__tls_check_context(coio_tls_context_t *ctx, int side) {
  (void)ctx, (void)side;
  return COIO_ENOTSUP;
}

int coio__tls_client(coio_loop_t *loop, coio_socket_t fd, const coio_connect_options_t *opts,
                     const char *host, const coio_protocol_t *proto, void *user_data,
                     int *fd_taken, void **result) {
  (void)loop, (void)fd, (void)opts, (void)host, (void)proto, (void)user_data, (void)result;
  *fd_taken = 0;
  return COIO_ENOTSUP;
}

void coio__tls_accepted(struct coio_server *s, coio_socket_t fd) {
  (void)s;
  coio_socket_close(fd);
}

int coio_start_tls(coio_transport_t *t, const coio_protocol_t *proto, void *user_data,
                   coio_tls_context_t *ctx, const coio_tls_options_t *opts, coio_future_t **out) {
  (void)t, (void)proto, (void)user_data, (void)ctx, (void)opts;
  if (out)
    *out = NULL;
  return COIO_ENOTSUP;
}

int coio_transport_is_tls(const coio_transport_t *t) {
  (void)t;
  return 0;
}
const char *coio_transport_tls_version(const coio_transport_t *t) {
  (void)t;
  return NULL;
}
const char *coio_transport_tls_cipher(const coio_transport_t *t) {
  (void)t;
  return NULL;
}
const char *coio_transport_tls_alpn(const coio_transport_t *t) {
  (void)t;
  return NULL;
}
const char *coio_transport_tls_server_name(const coio_transport_t *t) {
  (void)t;
  return NULL;
}
int coio_transport_tls_session_reused(const coio_transport_t *t) {
  (void)t;
  return 0;
}
int coio_transport_tls_peer_certificate(const coio_transport_t *t, void **der, size_t *len) {
  (void)t;
  if (der)
    *der = NULL;
  if (len)
    *len = 0;
  return COIO_ENOTSUP;
}
void *coio_transport_tls_native(const coio_transport_t *t) {
  (void)t;
  return NULL;
}
