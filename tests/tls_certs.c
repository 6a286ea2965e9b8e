/* tests/tls_certs.c - see tls_certs.h. OpenSSL 3.0 API only. */
#include "tls_certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct tls_ca {
  EVP_PKEY *key;
  X509 *cert;
};

static long serial_counter = 1000;

static char *bio_string(BIO *b, size_t *len) {
  char *data = NULL, *out;
  long n = BIO_get_mem_data(b, &data);
  if (n <= 0 || !(out = malloc((size_t)n + 1)))
    return NULL;
  memcpy(out, data, (size_t)n);
  out[n] = 0;
  *len = (size_t)n;
  return out;
}

static int pem_of(X509 *x, EVP_PKEY *key, tls_pem_t *p) {
  BIO *b = BIO_new(BIO_s_mem());
  memset(p, 0, sizeof *p);
  if (!b || !PEM_write_bio_X509(b, x) || !(p->cert = bio_string(b, &p->cert_len))) {
    BIO_free(b);
    return -1;
  }
  BIO_free(b);
  if (!key)
    return 0;
  b = BIO_new(BIO_s_mem());
  if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) ||
      !(p->key = bio_string(b, &p->key_len))) {
    BIO_free(b);
    tls_pem_free(p);
    return -1;
  }
  BIO_free(b);
  return 0;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
  if (!(ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value)))
    return -1;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return 0;
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, long not_before, long not_after) {
  X509 *x = X509_new();
  X509_NAME *name;
  if (!x)
    return NULL;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial_counter++);
  X509_gmtime_adj(X509_getm_notBefore(x), not_before);
  X509_gmtime_adj(X509_getm_notAfter(x), not_after);
  X509_set_pubkey(x, key);
  name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"coio tests", -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  return x;
}

tls_ca_t *tls_ca_new(const char *cn, tls_pem_t *pem) {
  tls_ca_t *ca = calloc(1, sizeof *ca);
  if (!ca)
    return NULL;
  if (!(ca->key = EVP_EC_gen("P-256")) || !(ca->cert = new_cert(ca->key, cn, -3600, 86400L * 30)))
    goto fail;
  X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert));
  if (add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE") ||
      add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
      add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") ||
      !X509_sign(ca->cert, ca->key, EVP_sha256()))
    goto fail;
  if (pem && pem_of(ca->cert, NULL, pem) != 0)
    goto fail;
  return ca;
fail:
  tls_ca_free(ca);
  return NULL;
}

void tls_ca_free(tls_ca_t *ca) {
  if (!ca)
    return;
  EVP_PKEY_free(ca->key);
  X509_free(ca->cert);
  free(ca);
}

int tls_cert_new(tls_ca_t *ca, const char *cn, const char *dns, const char *ip, long not_before,
                 long not_after, int client, tls_pem_t *out) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = NULL;
  char san[512] = "";
  int rc = -1;
  memset(out, 0, sizeof *out);
  if (!key || !(x = new_cert(key, cn, not_before, not_after)))
    goto out;
  X509_set_issuer_name(x, X509_get_subject_name(ca->cert));
  if (dns) {
    const char *p = dns;
    while (*p) {
      const char *e = strchr(p, ',');
      size_t n = e ? (size_t)(e - p) : strlen(p);
      size_t at = strlen(san);
      snprintf(san + at, sizeof san - at, "%sDNS:%.*s", at ? "," : "", (int)n, p);
      p += n + (e ? 1 : 0);
    }
  }
  if (ip) {
    size_t at = strlen(san);
    snprintf(san + at, sizeof san - at, "%sIP:%s", at ? "," : "", ip);
  }
  if ((san[0] && add_ext(x, ca->cert, NID_subject_alt_name, san)) ||
      add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") ||
      add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature") ||
      add_ext(x, ca->cert, NID_ext_key_usage, client ? "clientAuth" : "serverAuth") ||
      add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") ||
      !X509_sign(x, ca->key, EVP_sha256()))
    goto out;
  rc = pem_of(x, key, out);
out:
  X509_free(x);
  EVP_PKEY_free(key);
  return rc;
}

char *tls_key_encrypt(const char *key_pem, size_t key_len, const char *password, size_t *len) {
  BIO *in = BIO_new_mem_buf(key_pem, (int)key_len), *out = BIO_new(BIO_s_mem());
  EVP_PKEY *key = NULL;
  char *s = NULL;
  if (in && out && (key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL)) != NULL &&
      PEM_write_bio_PrivateKey(out, key, EVP_aes_256_cbc(), (const unsigned char *)password,
                               (int)strlen(password), NULL, NULL))
    s = bio_string(out, len);
  EVP_PKEY_free(key);
  BIO_free(in);
  BIO_free(out);
  return s;
}

void tls_pem_free(tls_pem_t *p) {
  free(p->cert);
  free(p->key);
  memset(p, 0, sizeof *p);
}

int tls_test_certs_make(tls_test_certs_t *c) {
  tls_ca_t *ca, *other;
  int rc = -1;
  memset(c, 0, sizeof *c);
  if (!(ca = tls_ca_new("coio test CA", &c->ca)))
    return -1;
  if (!(other = tls_ca_new("another CA", &c->other_ca))) {
    tls_ca_free(ca);
    return -1;
  }
  if (tls_cert_new(ca, "localhost", "localhost", "127.0.0.1", -3600, 86400L * 30, 0, &c->server) ||
      tls_cert_new(ca, "localhost", "localhost", "127.0.0.1", -86400L * 2, -86400L, 0,
                   &c->expired) ||
      tls_cert_new(ca, "wrong.example", "wrong.example", NULL, -3600, 86400L * 30, 0,
                   &c->wrong_name) ||
      tls_cert_new(ca, "client", NULL, NULL, -3600, 86400L * 30, 1, &c->client) ||
      tls_cert_new(ca, "alt.test", "alt.test", NULL, -3600, 86400L * 30, 0, &c->alt))
    goto out;
  rc = 0;
out:
  tls_ca_free(ca);
  tls_ca_free(other);
  if (rc)
    tls_test_certs_free(c);
  return rc;
}

void tls_test_certs_free(tls_test_certs_t *c) {
  tls_pem_free(&c->ca);
  tls_pem_free(&c->server);
  tls_pem_free(&c->expired);
  tls_pem_free(&c->wrong_name);
  tls_pem_free(&c->client);
  tls_pem_free(&c->alt);
  tls_pem_free(&c->other_ca);
}
