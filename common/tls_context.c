/* common/tls_context.c - TLS contexts (coio/tls.h): an OpenSSL SSL_CTX with
 * asyncio's secure defaults (ssl.create_default_context): TLS 1.2 at least,
 * compression and renegotiation off, a client verifies the certificate
 * chain and the host name against the system's trust store.
 *
 * Also here, as they live in the context: ALPN (the client's offer in wire
 * form; the server's choice, in its own order of preference), the SNI
 * callback (a server picks the context per name), and the client's session
 * cache (sessions arrive through OpenSSL's new-session callback, TLS 1.3
 * tickets after the handshake; kept per "server name|port", most recent
 * first, at most CACHE_MAX). */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "coio/error.h"
#include "tls_internal.h"
#include "tls_store.h"

#define CACHE_MAX 64

int coio_tls_available(void) { return 1; }

/* OpenSSL's last error as a code: allocation failures are COIO_ENOMEM. */
static int ossl_error(void) {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? COIO_ENOMEM : COIO_ETLS;
}

/* ---- the client's session cache ---------------------------------------------------- */

static void session_free(coio__tls_session_t *s) {
  SSL_SESSION_free(s->sess);
  free(s->key);
  free(s);
}

/* OpenSSL hands over a new session (its reference is ours when we return 1). */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  coio__tls_engine_t *e = SSL_get_app_data(ssl);
  coio_tls_context_t *ctx;
  coio__tls_session_t *s, **pp;
  size_t n;
  if (!e || !e->session_key || !SSL_SESSION_is_resumable(sess))
    return 0;
  ctx = e->ctx;
  for (pp = &ctx->sessions; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->key, e->session_key) == 0) {
      s = *pp;
      *pp = s->next;
      ctx->nsessions--;
      session_free(s);
      break;
    }
  }
  if (!(s = calloc(1, sizeof *s)) || !(s->key = malloc(strlen(e->session_key) + 1))) {
    free(s);
    return 0;
  }
  strcpy(s->key, e->session_key);
  s->sess = sess;
  s->next = ctx->sessions;
  ctx->sessions = s;
  ctx->nsessions++;
  /* drop the oldest beyond the limit */
  for (n = 0, pp = &ctx->sessions; *pp; n++) {
    if (n >= CACHE_MAX) {
      coio__tls_session_t *old = *pp;
      *pp = old->next;
      ctx->nsessions--;
      session_free(old);
    } else {
      pp = &(*pp)->next;
    }
  }
  return 1;
}

SSL_SESSION *coio__tls_session_get(coio_tls_context_t *ctx, const char *key) {
  coio__tls_session_t *s;
  for (s = ctx->sessions; s; s = s->next)
    if (strcmp(s->key, key) == 0)
      return SSL_SESSION_up_ref(s->sess) == 1 ? s->sess : NULL;
  return NULL;
}

/* ---- SNI and ALPN callbacks (server) ---------------------------------------------------- */

static int sni_cb(SSL *ssl, int *alert, void *arg) {
  coio_tls_context_t *ctx = arg, *use = ctx;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!ctx->sni_cb)
    return SSL_TLSEXT_ERR_OK;
  if (ctx->sni_cb(name, &use, ctx->sni_data) != 0) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (use && use != ctx && use->side != COIO_TLS_SERVER) {
    *alert = SSL_AD_INTERNAL_ERROR; /* a client context cannot serve */
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (use && use != ctx && use->ctx) {
    if (!SSL_set_SSL_CTX(ssl, use->ctx)) {
      *alert = SSL_AD_INTERNAL_ERROR;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    /* the new context's verification settings, as asyncio's sni_callback */
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(use->ctx), NULL);
  }
  return SSL_TLSEXT_ERR_OK;
}

/* The first of the server's protocols the client offers too. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                          const unsigned char *in, unsigned int inlen, void *arg) {
  coio_tls_context_t *ctx = arg;
  size_t i, j;
  (void)ssl;
  if (!ctx->alpn)
    return SSL_TLSEXT_ERR_NOACK;
  for (i = 0; i < ctx->alpn_len; i += 1u + ctx->alpn[i]) {
    for (j = 0; j < inlen; j += 1u + in[j]) {
      if (j + 1u + in[j] > inlen)
        break;
      if (in[j] == ctx->alpn[i] && memcmp(in + j + 1, ctx->alpn + i + 1, in[j]) == 0) {
        *out = in + j + 1;
        *outlen = in[j];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL; /* no_application_protocol */
}

/* ---- contexts ------------------------------------------------------------------------------ */

int coio_tls_context_new(int side, unsigned flags, coio_tls_context_t **out) {
  coio_tls_context_t *c;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if ((side != COIO_TLS_CLIENT && side != COIO_TLS_SERVER) ||
      (flags & ~(unsigned)COIO_TLS_NO_DEFAULT_TRUST))
    return COIO_EINVAL;
  if (!(c = calloc(1, sizeof *c)))
    return COIO_ENOMEM;
  c->refs = 1;
  c->side = side;
  c->ctx = SSL_CTX_new(side == COIO_TLS_SERVER ? TLS_server_method() : TLS_client_method());
  if (!c->ctx) {
    free(c);
    return ossl_error();
  }
  SSL_CTX_set_app_data(c->ctx, c);
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  (side == COIO_TLS_SERVER ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  /* Partial writes: the glue encrypts from the write buffer's blocks and
   * consumes what OpenSSL took. Idle connections give their buffers back. */
  SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
  if (side == COIO_TLS_CLIENT) {
    c->verify = COIO_TLS_VERIFY_REQUIRED;
    c->check_hostname = 1;
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(c->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c->ctx, new_session_cb);
    if (!(flags & COIO_TLS_NO_DEFAULT_TRUST) &&
        (rc = coio__tls_store_load_default(c->ctx)) != 0) {
      coio_tls_context_unref(c);
      return rc;
    }
  } else {
    c->verify = COIO_TLS_VERIFY_NONE;
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    /* server-side resumption with client certificates needs an id context */
    SSL_CTX_set_session_id_context(c->ctx, (const unsigned char *)"coio", 4);
    SSL_CTX_set_tlsext_servername_callback(c->ctx, sni_cb);
    SSL_CTX_set_tlsext_servername_arg(c->ctx, c);
    SSL_CTX_set_alpn_select_cb(c->ctx, alpn_select_cb, c);
  }
  *out = c;
  return 0;
}

void coio_tls_context_ref(coio_tls_context_t *ctx) {
  if (ctx)
    ctx->refs++;
}

void coio_tls_context_unref(coio_tls_context_t *ctx) {
  if (!ctx || --ctx->refs > 0)
    return;
  while (ctx->sessions) {
    coio__tls_session_t *s = ctx->sessions;
    ctx->sessions = s->next;
    session_free(s);
  }
  SSL_CTX_free(ctx->ctx);
  free(ctx->alpn);
  free(ctx);
}

int coio__tls_check_context(coio_tls_context_t *ctx, int side) {
  return ctx && ctx->side == side ? 0 : COIO_EINVAL;
}

/* ---- certificates and keys -------------------------------------------------------------------- */

static int password_cb(char *buf, int size, int rwflag, void *u) {
  const char *pw = u;
  size_t n;
  (void)rwflag;
  if (!pw)
    return 0;
  n = strlen(pw);
  if (n > (size_t)size)
    n = (size_t)size;
  memcpy(buf, pw, n);
  return (int)n;
}

int coio_tls_context_load_cert_chain(coio_tls_context_t *ctx, const char *certfile,
                                     const char *keyfile, const char *password) {
  int ok;
  if (!ctx || !certfile)
    return COIO_EINVAL;
  SSL_CTX_set_default_passwd_cb(ctx->ctx, password_cb);
  SSL_CTX_set_default_passwd_cb_userdata(ctx->ctx, (void *)password);
  ok = SSL_CTX_use_certificate_chain_file(ctx->ctx, certfile) == 1 &&
       SSL_CTX_use_PrivateKey_file(ctx->ctx, keyfile ? keyfile : certfile, SSL_FILETYPE_PEM) ==
           1 &&
       SSL_CTX_check_private_key(ctx->ctx) == 1;
  SSL_CTX_set_default_passwd_cb_userdata(ctx->ctx, NULL);
  return ok ? 0 : ossl_error();
}

int coio_tls_context_load_cert_chain_mem(coio_tls_context_t *ctx, const void *cert_pem,
                                         size_t cert_len, const void *key_pem, size_t key_len,
                                         const char *password) {
  BIO *b = NULL;
  X509 *x = NULL;
  EVP_PKEY *key = NULL;
  int rc = COIO_ETLS, first = 1;
  if (!ctx || !cert_pem || cert_len == 0 || cert_len > 0x7fffffff || key_len > 0x7fffffff ||
      (key_len && !key_pem))
    return COIO_EINVAL;
  if (!(b = BIO_new_mem_buf(cert_pem, (int)cert_len)))
    return ossl_error();
  SSL_CTX_clear_chain_certs(ctx->ctx);
  /* the leaf, then the chain */
  while ((x = PEM_read_bio_X509(b, NULL, password_cb, (void *)password)) != NULL) {
    int ok = first ? SSL_CTX_use_certificate(ctx->ctx, x) == 1
                   : SSL_CTX_add0_chain_cert(ctx->ctx, x) == 1;
    if (first || !ok)
      X509_free(x);
    if (!ok)
      goto out;
    first = 0;
  }
  ERR_clear_error(); /* the end of the PEM data */
  if (first)
    goto out; /* no certificate */
  BIO_free(b);
  b = key_len ? BIO_new_mem_buf(key_pem, (int)key_len)
              : BIO_new_mem_buf(cert_pem, (int)cert_len);
  if (!b || !(key = PEM_read_bio_PrivateKey(b, NULL, password_cb, (void *)password)))
    goto out;
  if (SSL_CTX_use_PrivateKey(ctx->ctx, key) != 1 || SSL_CTX_check_private_key(ctx->ctx) != 1)
    goto out;
  rc = 0;
out:
  if (rc)
    rc = ossl_error();
  EVP_PKEY_free(key);
  BIO_free(b);
  return rc;
}

int coio_tls_context_load_verify_locations(coio_tls_context_t *ctx, const char *cafile,
                                           const char *capath) {
  if (!ctx || (!cafile && !capath))
    return COIO_EINVAL;
  if (SSL_CTX_load_verify_locations(ctx->ctx, cafile, capath) != 1)
    return ossl_error();
  return 0;
}

int coio_tls_context_load_verify_mem(coio_tls_context_t *ctx, const void *pem, size_t len) {
  X509_STORE *store;
  BIO *b;
  X509 *x;
  int n = 0, rc = 0;
  if (!ctx || !pem || len == 0 || len > 0x7fffffff)
    return COIO_EINVAL;
  if (!(store = SSL_CTX_get_cert_store(ctx->ctx)) || !(b = BIO_new_mem_buf(pem, (int)len)))
    return ossl_error();
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (X509_STORE_add_cert(store, x) != 1) {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
        rc = COIO_ETLS;
    }
    X509_free(x);
    n++;
    if (rc)
      break;
  }
  ERR_clear_error();
  BIO_free(b);
  if (rc == 0 && n == 0)
    rc = COIO_ETLS; /* nothing in it */
  return rc;
}

int coio_tls_context_load_default_trust(coio_tls_context_t *ctx) {
  if (!ctx)
    return COIO_EINVAL;
  return coio__tls_store_load_default(ctx->ctx);
}

/* ---- settings ------------------------------------------------------------------------------------ */

int coio_tls_context_set_verify(coio_tls_context_t *ctx, int verify) {
  int mode;
  if (!ctx)
    return COIO_EINVAL;
  switch (verify) {
  case COIO_TLS_VERIFY_NONE:
    mode = SSL_VERIFY_NONE;
    break;
  case COIO_TLS_VERIFY_OPTIONAL:
    mode = SSL_VERIFY_PEER;
    break;
  case COIO_TLS_VERIFY_REQUIRED:
    mode = SSL_VERIFY_PEER | (ctx->side == COIO_TLS_SERVER ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    break;
  default:
    return COIO_EINVAL;
  }
  /* asyncio: a client cannot stop verifying while it checks host names */
  if (ctx->side == COIO_TLS_CLIENT && verify == COIO_TLS_VERIFY_NONE && ctx->check_hostname)
    return COIO_EINVAL;
  ctx->verify = verify;
  SSL_CTX_set_verify(ctx->ctx, mode, NULL);
  return 0;
}

int coio_tls_context_set_check_hostname(coio_tls_context_t *ctx, int on) {
  if (!ctx || ctx->side != COIO_TLS_CLIENT)
    return COIO_EINVAL;
  if (on && ctx->verify == COIO_TLS_VERIFY_NONE)
    return COIO_EINVAL;
  ctx->check_hostname = on != 0;
  return 0;
}

static int version_of(int v, int *out) {
  switch (v) {
  case 0:
    *out = 0;
    return 0;
  case COIO_TLS_1_2:
    *out = TLS1_2_VERSION;
    return 0;
  case COIO_TLS_1_3:
    *out = TLS1_3_VERSION;
    return 0;
  default:
    return COIO_EINVAL;
  }
}

int coio_tls_context_set_versions(coio_tls_context_t *ctx, int min, int max) {
  int lo, hi;
  if (!ctx || version_of(min, &lo) != 0 || version_of(max, &hi) != 0 || (hi && lo > hi))
    return COIO_EINVAL;
  if (lo == 0)
    lo = TLS1_2_VERSION; /* never below 1.2 */
  if (!SSL_CTX_set_min_proto_version(ctx->ctx, lo) || !SSL_CTX_set_max_proto_version(ctx->ctx, hi))
    return ossl_error();
  return 0;
}

int coio_tls_context_set_ciphers(coio_tls_context_t *ctx, const char *tls12, const char *tls13) {
  if (!ctx)
    return COIO_EINVAL;
  if (tls12 && SSL_CTX_set_cipher_list(ctx->ctx, tls12) != 1)
    return ossl_error() == COIO_ENOMEM ? COIO_ENOMEM : COIO_EINVAL;
  if (tls13 && SSL_CTX_set_ciphersuites(ctx->ctx, tls13) != 1)
    return ossl_error() == COIO_ENOMEM ? COIO_ENOMEM : COIO_EINVAL;
  return 0;
}

int coio_tls_context_set_alpn(coio_tls_context_t *ctx, const char *const *protos, size_t n) {
  unsigned char *w;
  size_t len = 0, i, at = 0;
  if (!ctx || (n && !protos))
    return COIO_EINVAL;
  for (i = 0; i < n; i++) {
    size_t k = protos[i] ? strlen(protos[i]) : 0;
    if (k == 0 || k > 255)
      return COIO_EINVAL;
    len += 1 + k;
  }
  if (len > 0xffff)
    return COIO_EINVAL;
  if (n == 0) {
    free(ctx->alpn);
    ctx->alpn = NULL;
    ctx->alpn_len = 0;
    if (ctx->side == COIO_TLS_CLIENT)
      SSL_CTX_set_alpn_protos(ctx->ctx, NULL, 0);
    return 0;
  }
  if (!(w = malloc(len)))
    return COIO_ENOMEM;
  for (i = 0; i < n; i++) {
    size_t k = strlen(protos[i]);
    w[at++] = (unsigned char)k;
    memcpy(w + at, protos[i], k);
    at += k;
  }
  /* note: SSL_CTX_set_alpn_protos returns 0 on success */
  if (ctx->side == COIO_TLS_CLIENT && SSL_CTX_set_alpn_protos(ctx->ctx, w, (unsigned)len) != 0) {
    free(w);
    return ossl_error();
  }
  free(ctx->alpn);
  ctx->alpn = w;
  ctx->alpn_len = len;
  return 0;
}

int coio_tls_context_set_sni_callback(coio_tls_context_t *ctx, coio_tls_sni_cb cb,
                                      void *user_data) {
  if (!ctx || ctx->side != COIO_TLS_SERVER)
    return COIO_EINVAL;
  ctx->sni_cb = cb;
  ctx->sni_data = user_data;
  return 0;
}

void *coio_tls_context_native(coio_tls_context_t *ctx) { return ctx ? ctx->ctx : NULL; }
