/* common/tls_engine.c - the TLS engine: one OpenSSL SSL object over two
 * memory BIOs (asyncio's SSLObject + MemoryBIO pair). Whoever drives it
 * feeds the records that arrived (feed / feed_eof), asks it to advance
 * (handshake, read, write, shutdown) and sends what it produced (out /
 * out_clear). It knows nothing of transports or loops, so the transport
 * glue (tls_transport.c), tests and the fuzz target use the same code.
 *
 * Errors become coio codes with OpenSSL's reason kept in e->msg: the
 * verification result first (unknown CA COIO_ECERT, expired
 * COIO_ECERTEXPIRED, wrong name COIO_ECERTHOST), then the reason of
 * OpenSSL's error queue (version or cipher mismatch COIO_ETLSVERSION, the
 * peer refusing our certificate COIO_ECERT, anything else COIO_ETLS). The
 * error queue is per thread, so every call clears it before and after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "coio/error.h"
#include "tls_internal.h"

static int is_ip_literal(const char *name) {
  ASN1_OCTET_STRING *ip = a2i_IPADDRESS(name);
  if (!ip) {
    ERR_clear_error();
    return 0;
  }
  ASN1_OCTET_STRING_free(ip);
  return 1;
}

int coio__tls_engine_init(coio__tls_engine_t *e, coio_tls_context_t *ctx, int server,
                          const char *hostname, const char *session_key) {
  int check;
  memset(e, 0, sizeof *e);
  if (!ctx || (server != 0) != (ctx->side == COIO_TLS_SERVER))
    return COIO_EINVAL;
  check = !server && ctx->check_hostname && ctx->verify != COIO_TLS_VERIFY_NONE;
  if (check && (!hostname || !*hostname))
    return COIO_EINVAL; /* asyncio: check_hostname requires server_hostname */
  ERR_clear_error();
  if (!(e->ssl = SSL_new(ctx->ctx)))
    goto fail;
  e->in = BIO_new(BIO_s_mem());
  e->out = BIO_new(BIO_s_mem());
  if (!e->in || !e->out) {
    BIO_free(e->in);
    BIO_free(e->out);
    e->in = e->out = NULL;
    goto fail;
  }
  BIO_set_mem_eof_return(e->in, -1); /* empty: "want more", not EOF */
  BIO_set_mem_eof_return(e->out, -1);
  SSL_set_bio(e->ssl, e->in, e->out); /* the SSL owns them now */
  SSL_set_app_data(e->ssl, e);
  coio_tls_context_ref(ctx);
  e->ctx = ctx;
  e->state = COIO__TLS_HANDSHAKE;
  if (server) {
    SSL_set_accept_state(e->ssl);
    return 0;
  }
  SSL_set_connect_state(e->ssl);
  if (hostname && *hostname) {
    int ip = is_ip_literal(hostname);
    if (!ip && !SSL_set_tlsext_host_name(e->ssl, hostname)) /* SNI: names only (RFC 6066) */
      goto fail;
    if (check) {
      X509_VERIFY_PARAM *p = SSL_get0_param(e->ssl);
      X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (!(ip ? X509_VERIFY_PARAM_set1_ip_asc(p, hostname) : SSL_set1_host(e->ssl, hostname)))
        goto fail;
    }
  }
  if (session_key) {
    SSL_SESSION *sess;
    if (!(e->session_key = malloc(strlen(session_key) + 1)))
      goto fail;
    strcpy(e->session_key, session_key);
    if ((sess = coio__tls_session_get(ctx, session_key)) != NULL) {
      SSL_set_session(e->ssl, sess);
      SSL_SESSION_free(sess);
    }
  }
  return 0;
fail:
  {
    unsigned long err = ERR_peek_last_error();
    ERR_clear_error();
    coio__tls_engine_fini(e);
    return ERR_GET_REASON(err) == ERR_R_MALLOC_FAILURE ? COIO_ENOMEM : COIO_ETLS;
  }
}

void coio__tls_engine_fini(coio__tls_engine_t *e) {
  if (e->ssl)
    SSL_free(e->ssl); /* and its BIOs */
  coio_tls_context_unref(e->ctx);
  free(e->session_key);
  memset(e, 0, sizeof *e);
  e->state = COIO__TLS_FAILED;
}

int coio__tls_engine_feed(coio__tls_engine_t *e, const void *data, size_t n) {
  while (n > 0) {
    int k = n > 0x40000000 ? 0x40000000 : (int)n;
    int w = BIO_write(e->in, data, k);
    if (w <= 0) {
      ERR_clear_error();
      return COIO_ENOMEM;
    }
    data = (const unsigned char *)data + w;
    n -= (size_t)w;
  }
  return 0;
}

void coio__tls_engine_feed_eof(coio__tls_engine_t *e) {
  if (e->in)
    BIO_set_mem_eof_return(e->in, 0);
}

size_t coio__tls_engine_in_pending(coio__tls_engine_t *e) {
  return e->in ? BIO_ctrl_pending(e->in) : 0;
}

size_t coio__tls_engine_out(coio__tls_engine_t *e, const void **p) {
  char *data = NULL;
  long n = e->out ? BIO_get_mem_data(e->out, &data) : 0;
  *p = data;
  return n > 0 ? (size_t)n : 0;
}

void coio__tls_engine_out_clear(coio__tls_engine_t *e) {
  if (e->out)
    (void)BIO_reset(e->out);
}

/* ---- errors ----------------------------------------------------------------------- */

static int verify_code(long v) {
  switch (v) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CRL_HAS_EXPIRED:
  case X509_V_ERR_CRL_NOT_YET_VALID:
    return COIO_ECERTEXPIRED;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
  case X509_V_ERR_EMAIL_MISMATCH:
    return COIO_ECERTHOST;
  default:
    return COIO_ECERT;
  }
}

static int reason_code(int reason) {
  switch (reason) {
  case SSL_R_UNSUPPORTED_PROTOCOL:
  case SSL_R_NO_PROTOCOLS_AVAILABLE:
  case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
  case SSL_R_NO_SHARED_CIPHER:
  case SSL_R_NO_CIPHERS_AVAILABLE:
  case SSL_R_NO_SUITABLE_GROUPS:
  case SSL_R_NO_SUITABLE_KEY_SHARE:
  case SSL_R_VERSION_TOO_LOW:
  case SSL_R_VERSION_TOO_HIGH:
    return COIO_ETLSVERSION;
  case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
  case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
  case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
  case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
  case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
  case SSL_R_CERTIFICATE_VERIFY_FAILED:
    return COIO_ECERT;
  case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    return COIO_ECERTEXPIRED;
  default:
    return COIO_ETLS;
  }
}

/* The outcome of an SSL call that returned r <= 0: 0 (wants more records
 * or room), or an error code with e->msg set and the state FAILED. */
static int failed(coio__tls_engine_t *e, int r, const char *what) {
  int err = SSL_get_error(e->ssl, r), code;
  unsigned long q;
  long v;
  char reason[160];
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    ERR_clear_error();
    return 0;
  }
  q = ERR_peek_last_error();
  reason[0] = 0;
  if (q)
    ERR_error_string_n(q, reason, sizeof reason);
  ERR_clear_error();
  v = SSL_get_verify_result(e->ssl);
  if (e->state == COIO__TLS_HANDSHAKE && v != X509_V_OK) {
    code = verify_code(v);
    snprintf(e->msg, sizeof e->msg, "TLS %s: certificate verify failed: %s", what,
             X509_verify_cert_error_string(v));
  } else if (err == SSL_ERROR_SYSCALL || (q && ERR_GET_REASON(q) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    /* the records ended (the peer closed) without close_notify */
    code = e->state == COIO__TLS_HANDSHAKE ? COIO_ECONNRESET : COIO_ETLSTRUNCATED;
    snprintf(e->msg, sizeof e->msg, "TLS %s: the connection was closed without close_notify",
             what);
  } else if (err == SSL_ERROR_SSL && q) {
    code = ERR_GET_LIB(q) == ERR_LIB_SSL ? reason_code(ERR_GET_REASON(q)) : COIO_ETLS;
    snprintf(e->msg, sizeof e->msg, "TLS %s: %s", what, reason);
  } else {
    code = COIO_ETLS;
    snprintf(e->msg, sizeof e->msg, "TLS %s failed (SSL error %d)", what, err);
  }
  e->state = COIO__TLS_FAILED;
  return code;
}

/* ---- the operations ------------------------------------------------------------------ */

int coio__tls_engine_handshake(coio__tls_engine_t *e) {
  int r;
  if (e->state != COIO__TLS_HANDSHAKE)
    return e->state == COIO__TLS_FAILED ? COIO_ETLS : 1;
  ERR_clear_error();
  r = SSL_do_handshake(e->ssl);
  if (r == 1) {
    e->state = COIO__TLS_OPEN;
    return 1;
  }
  return failed(e, r, "handshake");
}

int coio__tls_engine_read(coio__tls_engine_t *e, void *buf, size_t len, size_t *got) {
  size_t n = 0;
  int r, err;
  *got = 0;
  if (e->state == COIO__TLS_CLOSED)
    return 1;
  if (e->state != COIO__TLS_OPEN)
    return COIO_ETLS;
  ERR_clear_error();
  r = SSL_read_ex(e->ssl, buf, len, &n);
  if (r == 1) {
    *got = n;
    return 0;
  }
  err = SSL_get_error(e->ssl, r);
  if (err == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    e->state = COIO__TLS_CLOSED;
    return 1;
  }
  return failed(e, r, "read");
}

int coio__tls_engine_write(coio__tls_engine_t *e, const void *buf, size_t len, size_t *done) {
  size_t n = 0;
  int r;
  *done = 0;
  if (e->state != COIO__TLS_OPEN && e->state != COIO__TLS_CLOSED)
    return COIO_ETLS;
  if (len == 0)
    return 0;
  if (len > 16384)
    len = 16384; /* one record */
  ERR_clear_error();
  r = SSL_write_ex(e->ssl, buf, len, &n);
  if (r == 1) {
    *done = n;
    return 0;
  }
  return failed(e, r, "write");
}

int coio__tls_engine_shutdown(coio__tls_engine_t *e) {
  int r;
  if (!e->ssl)
    return COIO_ETLS;
  if (e->state == COIO__TLS_FAILED || e->state == COIO__TLS_HANDSHAKE)
    return 1; /* no session to close: nothing to say */
  ERR_clear_error();
  if (!(SSL_get_shutdown(e->ssl) & SSL_SENT_SHUTDOWN)) {
    r = SSL_shutdown(e->ssl);
    if (r < 0) {
      int err = SSL_get_error(e->ssl, r);
      ERR_clear_error();
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
        return COIO_ETLS;
    }
  }
  ERR_clear_error();
  return (SSL_get_shutdown(e->ssl) & SSL_RECEIVED_SHUTDOWN) ? 1 : 0;
}
