/* tests/tls_certs.h - throwaway certificates made in the test process with
 * OpenSSL's C API (EC P-256 keys: fast), so TLS tests need no files and
 * run under Wine too: a CA, and certificates it signs, in PEM. */
#ifndef COIO_TESTS_TLS_CERTS_H
#define COIO_TESTS_TLS_CERTS_H

#include <stddef.h>

typedef struct tls_pem {
  char *cert, *key; /* NUL-terminated PEM (malloc'd); key may be NULL (a CA's cert only) */
  size_t cert_len, key_len;
} tls_pem_t;

typedef struct tls_ca tls_ca_t; /* a CA that can sign */

/* A self-signed CA named cn; NULL on failure. pem (may be NULL) receives
 * its certificate (for load_verify_mem). */
tls_ca_t *tls_ca_new(const char *cn, tls_pem_t *pem);
void tls_ca_free(tls_ca_t *ca);

/* A leaf certificate signed by ca for cn, with subjectAltName dns (NULL or
 * a comma-separated list of DNS names) and ip (NULL or an IP address),
 * valid from now + not_before to now + not_after (seconds; negative: in the
 * past); client: extended key usage clientAuth, else serverAuth. 0 or -1. */
int tls_cert_new(tls_ca_t *ca, const char *cn, const char *dns, const char *ip, long not_before,
                 long not_after, int client, tls_pem_t *out);
void tls_pem_free(tls_pem_t *p);
/* key_pem re-encrypted with password (AES-256-CBC PEM): malloc'd, NUL-
 * terminated, its length in *len; NULL on failure. */
char *tls_key_encrypt(const char *key_pem, size_t key_len, const char *password, size_t *len);

/* The usual set for tests: a CA, a server certificate for localhost and
 * 127.0.0.1, an expired one, one for the wrong name, a client one, one for
 * "alt.test" (SNI), and a second, unrelated CA. 0 or -1. */
typedef struct tls_test_certs {
  tls_pem_t ca, server, expired, wrong_name, client, alt, other_ca;
} tls_test_certs_t;
int tls_test_certs_make(tls_test_certs_t *c);
void tls_test_certs_free(tls_test_certs_t *c);

#endif
