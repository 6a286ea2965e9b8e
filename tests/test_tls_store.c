/* tests/test_tls_store.c - the system trust store (common/tls_store.h),
 * without sockets: a throwaway CA and leaf made here with OpenSSL's C API,
 * the CA written to a file named by SSL_CERT_FILE (or to a hashed
 * directory named by SSL_CERT_DIR), a context loaded with
 * coio__tls_store_load_default, and the leaf verified with X509_verify_cert
 * against that context's store. A second CA that is nowhere in the trust
 * store shows the store does not trust everything. Then the system's own
 * store: on POSIX a root from OpenSSL's default CA file, on Windows (and
 * under Wine) a root from the Windows ROOT store, must verify against a
 * context loaded without the variables, and not against an empty one. */
#ifdef _WIN32
#include <windows.h>

#include <direct.h>
#include <process.h>
#include <wincrypt.h> /* before OpenSSL, which undoes its X509_NAME macros */
#else
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/tls_store.h"
#include "harness.h"

/* ---- small portable helpers ----------------------------------------------------- */

static void env_set(const char *name, const char *value) { /* value NULL: unset */
#ifdef _WIN32
  assert_true(SetEnvironmentVariableA(name, value));
#else
  if (value)
    assert_int_equal(setenv(name, value, 1), 0);
  else
    assert_int_equal(unsetenv(name), 0);
#endif
}

static long my_pid(void) {
#ifdef _WIN32
  return (long)_getpid();
#else
  return (long)getpid();
#endif
}

static void make_dir(const char *path) {
#ifdef _WIN32
  assert_int_equal(_mkdir(path), 0);
#else
  assert_int_equal(mkdir(path, 0700), 0);
#endif
}

static void remove_dir(const char *path) {
#ifdef _WIN32
  _rmdir(path);
#else
  rmdir(path);
#endif
}

/* ---- throwaway certificates ------------------------------------------------------ */

typedef struct pki {
  EVP_PKEY *ca_key, *other_key, *leaf_key;
  X509 *ca, *other_ca, *leaf, *other_leaf; /* leaf: by ca; other_leaf: by other_ca */
} pki_t;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
  ext = X509V3_EXT_nconf_nid(NULL, &v3, nid, value);
  assert_non_null(ext);
  assert_int_equal(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

/* A certificate for key named cn, signed by issuer/issuer_key (NULL:
 * self-signed), a CA or a localhost server certificate. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca) {
  static long serial = 1;
  X509 *x = X509_new();
  X509_NAME *name;
  assert_non_null(x);
  assert_int_equal(X509_set_version(x, 2), 1);
  assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
  assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
  assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 24L * 3600));
  assert_int_equal(X509_set_pubkey(x, key), 1);
  name = X509_get_subject_name(x);
  assert_int_equal(
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
      1);
  assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
  add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
  add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
    add_ext(x, issuer, NID_subject_alt_name, "DNS:localhost");
  }
  assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
  return x;
}

static void pki_make(pki_t *p) {
  memset(p, 0, sizeof *p);
  assert_non_null(p->ca_key = EVP_EC_gen("P-256"));
  assert_non_null(p->other_key = EVP_EC_gen("P-256"));
  assert_non_null(p->leaf_key = EVP_EC_gen("P-256"));
  p->ca = make_cert(p->ca_key, "coio test CA", NULL, NULL, 1);
  p->other_ca = make_cert(p->other_key, "coio untrusted CA", NULL, NULL, 1);
  p->leaf = make_cert(p->leaf_key, "localhost", p->ca, p->ca_key, 0);
  p->other_leaf = make_cert(p->leaf_key, "localhost", p->other_ca, p->other_key, 0);
}

static void pki_free(pki_t *p) {
  X509_free(p->ca);
  X509_free(p->other_ca);
  X509_free(p->leaf);
  X509_free(p->other_leaf);
  EVP_PKEY_free(p->ca_key);
  EVP_PKEY_free(p->other_key);
  EVP_PKEY_free(p->leaf_key);
}

static void write_pem(const char *path, X509 *x) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(PEM_write_X509(f, x), 1);
  assert_int_equal(fclose(f), 0);
}

/* X509_verify_cert of x against ctx's store. A leaf is checked as a TLS
 * server certificate (the purpose a client checks); a root (is_root: a
 * self-signed CA, which is no server certificate, and whose validity is not
 * checked: stores keep expired roots) only for the trust a client needs
 * in its chain's anchor (X509_TRUST_SSL_SERVER). Returns X509_V_OK or the
 * verify error. */
static int verify_in(SSL_CTX *ctx, X509 *x, int is_root) {
  X509_STORE_CTX *sc = X509_STORE_CTX_new();
  int rc;
  assert_non_null(sc);
  assert_int_equal(X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), x, NULL), 1);
  if (is_root) {
    assert_int_equal(X509_STORE_CTX_set_trust(sc, X509_TRUST_SSL_SERVER), 1);
    /* PARTIAL_CHAIN: the certificate itself must be in the store (found
     * by an exact match); without it OpenSSL may take another root with
     * the same subject as the anchor of a self-signed certificate (Wine's
     * store holds two "Firmaprofesional" roots) and then reject it. */
    X509_STORE_CTX_set_flags(sc, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN);
  } else {
    assert_int_equal(X509_STORE_CTX_set_purpose(sc, X509_PURPOSE_SSL_SERVER), 1);
  }
  rc = X509_verify_cert(sc) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(sc);
  if (rc == X509_V_OK)
    assert_int_equal(X509_STORE_CTX_get_error(sc), X509_V_OK);
  X509_STORE_CTX_free(sc);
  ERR_clear_error();
  return rc;
}

static SSL_CTX *loaded_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  assert_non_null(ctx);
  assert_int_equal(coio__tls_store_load_default(ctx), 0);
  return ctx;
}

/* ---- tests ------------------------------------------------------------------------ */

static void null_context_is_einval(void **state) {
  (void)state;
  assert_int_equal(coio__tls_store_load_default(NULL), COIO_EINVAL);
}

/* The CA in SSL_CERT_FILE is trusted; a CA elsewhere is not; a context
 * not loaded trusts neither. */
static void ssl_cert_file_is_trusted(void **state) {
  pki_t p;
  char path[64];
  SSL_CTX *ctx, *bare;
  (void)state;
  pki_make(&p);
  snprintf(path, sizeof path, "tls_store_ca_%ld.pem", my_pid());
  write_pem(path, p.ca);
  env_set("SSL_CERT_FILE", path);
  env_set("SSL_CERT_DIR", NULL);
  ctx = loaded_ctx();
  assert_int_equal(verify_in(ctx, p.leaf, 0), X509_V_OK);
  assert_int_equal(verify_in(ctx, p.other_leaf, 0), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  bare = SSL_CTX_new(TLS_client_method());
  assert_non_null(bare);
  assert_int_equal(verify_in(bare, p.leaf, 0), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  /* Loading twice is harmless (coio_tls_context_load_default_trust after
   * context_new). */
  assert_int_equal(coio__tls_store_load_default(ctx), 0);
  assert_int_equal(verify_in(ctx, p.leaf, 0), X509_V_OK);
  SSL_CTX_free(bare);
  SSL_CTX_free(ctx);
  env_set("SSL_CERT_FILE", NULL);
  remove(path);
  pki_free(&p);
}

/* A hashed directory in SSL_CERT_DIR (the file named by SSL_CERT_FILE does
 * not exist: not an error). */
static void ssl_cert_dir_is_trusted(void **state) {
  pki_t p;
  char dir[64], path[128], missing[64];
  SSL_CTX *ctx;
  (void)state;
  pki_make(&p);
  snprintf(dir, sizeof dir, "tls_store_dir_%ld", my_pid());
  snprintf(missing, sizeof missing, "tls_store_missing_%ld.pem", my_pid());
  make_dir(dir);
  snprintf(path, sizeof path, "%s/%08lx.0", dir, X509_subject_name_hash(p.ca));
  write_pem(path, p.ca);
  env_set("SSL_CERT_FILE", missing);
  env_set("SSL_CERT_DIR", dir);
  ctx = loaded_ctx();
  assert_int_equal(verify_in(ctx, p.leaf, 0), X509_V_OK);
  assert_int_equal(verify_in(ctx, p.other_leaf, 0), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  SSL_CTX_free(ctx);
  env_set("SSL_CERT_FILE", NULL);
  env_set("SSL_CERT_DIR", NULL);
  remove(path);
  remove_dir(dir);
  pki_free(&p);
}

#ifdef _WIN32
/* Windows: the ROOT store is imported. Each certificate of the current
 * user's ROOT store that Windows allows for every use and that is a
 * self-signed CA must verify (trusted as a TLS server chain's anchor, time
 * unchecked) against a context loaded without
 * SSL_CERT_FILE, and not against an empty context.
 * Wine (8.0, observed): its crypt32 fills the local machine's ROOT store
 * from the host's CA bundle, so on a Debian host with ca-certificates the
 * store holds the host's roots plus a few of Wine's own (149 certificates
 * for the host's 144 on the machine this was written on, 147 of them
 * self-signed CAs for every use, all verified); the current user's ROOT
 * and every CA and Disallowed store do not exist there. The test insists
 * on at least one verified root, and on all of those it tries: a Wine
 * without the host's roots, or an import that drops them, fails it. A
 * Windows machine always has some roots. */
/* 1 when Windows allows c for every use (no extended key usage in the
 * certificate or in the store's property). */
static int every_use(PCCERT_CONTEXT c) {
  DWORD size = 0;
  CERT_ENHKEY_USAGE *u;
  int all;
  if (!CertGetEnhancedKeyUsage(c, 0, NULL, &size))
    return GetLastError() == (DWORD)CRYPT_E_NOT_FOUND;
  assert_non_null(u = malloc(size));
  all = CertGetEnhancedKeyUsage(c, 0, u, &size) && u->cUsageIdentifier == 0 &&
        GetLastError() == (DWORD)CRYPT_E_NOT_FOUND;
  free(u);
  return all;
}

/* 1 when c is also in the current user's Disallowed store (which the
 * import honours). */
static int disallowed(PCCERT_CONTEXT c) {
  HCERTSTORE s = CertOpenSystemStoreW(0, L"Disallowed");
  PCCERT_CONTEXT found = NULL;
  if (!s)
    return 0; /* Wine 8 has none */
  found = CertFindCertificateInStore(s, X509_ASN_ENCODING, 0, CERT_FIND_EXISTING, c, NULL);
  if (found)
    CertFreeCertificateContext(found);
  CertCloseStore(s, 0);
  return found != NULL;
}

static void system_root_store_is_imported(void **state) {
  HCERTSTORE roots;
  PCCERT_CONTEXT c = NULL;
  SSL_CTX *ctx, *bare;
  size_t seen = 0, tried = 0, verified = 0;
  (void)state;
  env_set("SSL_CERT_FILE", NULL);
  env_set("SSL_CERT_DIR", NULL);
  ctx = loaded_ctx();
  bare = SSL_CTX_new(TLS_client_method());
  assert_non_null(bare);
  roots = CertOpenSystemStoreW(0, L"ROOT");
  assert_non_null(roots);
  while ((c = CertEnumCertificatesInStore(roots, c)) != NULL) {
    const unsigned char *der = c->pbCertEncoded;
    X509 *x;
    seen++;
    if (!every_use(c) || disallowed(c))
      continue; /* restricted uses or distrusted: not this test's business */
    if (!(x = d2i_X509(NULL, &der, (long)c->cbCertEncoded)))
      continue;
    if ((X509_get_extension_flags(x) & EXFLAG_SS) && X509_check_ca(x) >= 1) {
      int rc = verify_in(ctx, x, 1);
      tried++;
      if (rc == X509_V_OK)
        verified++;
      else {
        char name[256];
        X509_NAME_oneline(X509_get_subject_name(x), name, sizeof name);
        print_message("root %lu (%s) did not verify: %s\n", (unsigned long)tried, name,
                      X509_verify_cert_error_string(rc));
      }
      assert_int_equal(verify_in(bare, x, 1), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    }
    X509_free(x);
  }
  CertCloseStore(roots, 0);
  print_message("ROOT store%s: %lu certificates, %lu self-signed CAs for every use, %lu verified\n",
                test_under_wine() ? " (Wine)" : "", (unsigned long)seen, (unsigned long)tried,
                (unsigned long)verified);
  assert_true(seen > 0);
  assert_true(tried > 0);
  assert_int_equal(verified, tried);
  SSL_CTX_free(bare);
  SSL_CTX_free(ctx);
}
#else
/* POSIX: without the variables, OpenSSL's default CA file is read: its
 * first certificate (a root of the distribution's bundle) verifies against
 * a loaded context and not against an empty one. Skipped where there is
 * no bundle (a machine without ca-certificates). */
static void default_ca_file_is_used(void **state) {
  const char *file = X509_get_default_cert_file();
  FILE *f;
  X509 *root;
  SSL_CTX *ctx, *bare;
  (void)state;
  env_set("SSL_CERT_FILE", NULL);
  env_set("SSL_CERT_DIR", NULL);
  if (!(f = fopen(file, "rb"))) {
    print_message("no default CA file (%s): skipped\n", file);
    skip();
  }
  root = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  assert_non_null(root);
  ctx = loaded_ctx();
  bare = SSL_CTX_new(TLS_client_method());
  assert_non_null(bare);
  assert_int_equal(verify_in(ctx, root, 1), X509_V_OK);
  assert_int_equal(verify_in(bare, root, 1), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
  SSL_CTX_free(bare);
  SSL_CTX_free(ctx);
  X509_free(root);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(null_context_is_einval),
      cmocka_unit_test(ssl_cert_file_is_trusted),
      cmocka_unit_test(ssl_cert_dir_is_trusted),
#ifdef _WIN32
      cmocka_unit_test(system_root_store_is_imported),
#else
      cmocka_unit_test(default_ca_file_is_used),
#endif
  };
  return cmocka_run_group_tests_name("tls_store", tests, NULL, NULL);
}
