/* common/tls_store_win.c - the system trust store on Windows (see
 * tls_store.h).
 *
 * The OpenSSL coio builds with on Windows (3.0) does not read the Windows
 * certificate store, so without this every public site would fail with
 * "unable to get local issuer certificate". Two ways out: verify the peer's
 * chain with the Windows chain engine (CertGetCertificateChain +
 * CertVerifyCertificateChainPolicy) from a verify callback, or copy the
 * system's ROOT (and CA) certificates into OpenSSL's X509_STORE.
 *
 * Decision: copy them (what Python's ssl.create_default_context does on
 * Windows, load_default_certs -> enum_certificates("CA"/"ROOT")). Why:
 * - It stays inside the X509_STORE: every other setting of the context
 *   (verify mode, check_hostname, CAs the user adds with
 *   load_verify_locations, SNI contexts) works unchanged, hostname checks
 *   and the COIO_ECERT / COIO_ECERTEXPIRED / COIO_ECERTHOST mapping are
 *   OpenSSL's on every OS, and no verify callback of ours competes with
 *   the TLS layer's or the user's (coio_tls_context_native).
 * - The chain engine may fetch over the network (AIA intermediates, CRLs,
 *   OCSP, the root auto-update) from inside the verify callback, which runs
 *   on the loop's thread in the middle of the handshake: seconds of a
 *   blocked event loop.
 * - It is testable under Wine (Wine's crypt32 fills its ROOT store from the
 *   host's CA bundle; tests/test_tls_store.c), where a chain engine policy
 *   check would mostly test Wine.
 * What it costs: Windows' on-demand root update never runs for us (a root
 *   Windows has not downloaded yet is unknown: the same limitation as
 *   Python's), no revocation checking (as OpenSSL elsewhere), and the copy
 *   is made once per context (a few milliseconds for a few hundred
 *   certificates).
 *
 * What is copied: from the ROOT stores of the local machine (plus its
 * enterprise and group policy stores) and the current user (plus group
 * policy), each certificate Windows allows for server or client
 * authentication. A root whose uses Windows restricts (the certificate's
 * extended key usage combined with the store's property, as
 * CertGetEnhancedKeyUsage reports them) keeps exactly those uses as
 * OpenSSL trust settings (X509_add1_trust_object), so OpenSSL trusts it
 * for the same purposes; a root disabled for every use is skipped. From the
 * CA stores, the intermediates (self-signed certificates there are not
 * trust anchors and are skipped), for chain building only: OpenSSL never
 * takes a non-self-signed certificate as an anchor (no PARTIAL_CHAIN).
 * Certificates in a Disallowed store are skipped everywhere. No ROOT store
 * at all (a broken system) is not an error: the context trusts nothing
 * more, as on POSIX without a CA bundle.
 *
 * SSL_CERT_FILE / SSL_CERT_DIR: loaded as well when set (read with the W
 * call and passed as UTF-8, which OpenSSL's Windows file opening takes).
 * OpenSSL's SSL_CTX_set_default_verify_paths is NOT called: its
 * compiled-in OPENSSLDIR of a cross-built OpenSSL is a path such as
 * /root/.cache/...  that Windows resolves on the current drive, a folder
 * any user could create and fill with CAs. Unreadable env locations are
 * ignored, as OpenSSL does on POSIX. */
#include <windows.h>

#include <wincrypt.h> /* before OpenSSL: its headers undo wincrypt's X509_NAME macros */

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "tls_store.h"

/* A collection of the named system store at every location we read, or
 * NULL when none of them could be opened. */
static HCERTSTORE open_collection(const wchar_t *name) {
  static const DWORD locations[] = {
      CERT_SYSTEM_STORE_LOCAL_MACHINE, CERT_SYSTEM_STORE_LOCAL_MACHINE_ENTERPRISE,
      CERT_SYSTEM_STORE_LOCAL_MACHINE_GROUP_POLICY, CERT_SYSTEM_STORE_CURRENT_USER,
      CERT_SYSTEM_STORE_CURRENT_USER_GROUP_POLICY};
  HCERTSTORE coll = CertOpenStore(CERT_STORE_PROV_COLLECTION, 0, 0, 0, NULL);
  size_t i, added = 0;
  if (!coll)
    return NULL;
  for (i = 0; i < sizeof locations / sizeof locations[0]; i++) {
    HCERTSTORE s = CertOpenStore(
        CERT_STORE_PROV_SYSTEM_W, 0, 0,
        locations[i] | CERT_STORE_READONLY_FLAG | CERT_STORE_OPEN_EXISTING_FLAG, name);
    if (!s)
      continue;
    if (CertAddStoreToCollection(coll, s, 0, 0))
      added++;
    CertCloseStore(s, 0); /* the collection keeps its own reference */
  }
  if (added == 0) {
    CertCloseStore(coll, 0);
    return NULL;
  }
  return coll;
}

enum { USE_SERVER = 1, USE_CLIENT = 2, USE_ALL = 4 };

/* The TLS uses Windows allows c: USE_ALL (no restriction), a mix of
 * USE_SERVER / USE_CLIENT, 0 (none of ours, or disabled), or -1 when out
 * of memory. */
static int tls_uses(PCCERT_CONTEXT c) {
  DWORD size = 0, i;
  CERT_ENHKEY_USAGE *u;
  int uses = 0;
  if (!CertGetEnhancedKeyUsage(c, 0, NULL, &size))
    return GetLastError() == (DWORD)CRYPT_E_NOT_FOUND ? USE_ALL : 0;
  if (size < sizeof *u)
    return 0;
  if (!(u = malloc(size)))
    return -1;
  if (!CertGetEnhancedKeyUsage(c, 0, u, &size)) {
    uses = GetLastError() == (DWORD)CRYPT_E_NOT_FOUND ? USE_ALL : 0;
  } else if (u->cUsageIdentifier == 0) {
    /* Documented: no identifiers and CRYPT_E_NOT_FOUND mean every use;
     * no identifiers otherwise mean none. */
    uses = GetLastError() == (DWORD)CRYPT_E_NOT_FOUND ? USE_ALL : 0;
  } else {
    for (i = 0; i < u->cUsageIdentifier; i++) {
      const char *oid = u->rgpszUsageIdentifier[i];
      if (strcmp(oid, szOID_PKIX_KP_SERVER_AUTH) == 0)
        uses |= USE_SERVER;
      else if (strcmp(oid, szOID_PKIX_KP_CLIENT_AUTH) == 0)
        uses |= USE_CLIENT;
    }
  }
  free(u);
  return uses;
}

/* Copies the certificates of one store collection into store. root: trust
 * anchors (with their uses), else intermediates. Returns 0 or COIO_ENOMEM;
 * *count gets the number added. */
static int copy_store(X509_STORE *store, HCERTSTORE from, HCERTSTORE disallowed, int root,
                      size_t *count) {
  PCCERT_CONTEXT c = NULL;
  int rc = 0;
  while ((c = CertEnumCertificatesInStore(from, c)) != NULL) {
    const unsigned char *der = c->pbCertEncoded;
    X509 *x;
    int uses;
    if (!(c->dwCertEncodingType & X509_ASN_ENCODING))
      continue;
    if (disallowed) {
      PCCERT_CONTEXT bad =
          CertFindCertificateInStore(disallowed, X509_ASN_ENCODING, 0, CERT_FIND_EXISTING, c, NULL);
      if (bad) {
        CertFreeCertificateContext(bad);
        continue;
      }
    }
    if ((uses = tls_uses(c)) < 0) {
      rc = COIO_ENOMEM;
      break;
    }
    if (uses == 0)
      continue;
    if (!(x = d2i_X509(NULL, &der, (long)c->cbCertEncoded))) {
      ERR_clear_error(); /* a certificate OpenSSL cannot parse: skip it */
      continue;
    }
    if (root) {
      if (!(uses & USE_ALL) &&
          (((uses & USE_SERVER) && !X509_add1_trust_object(x, OBJ_nid2obj(NID_server_auth))) ||
           ((uses & USE_CLIENT) && !X509_add1_trust_object(x, OBJ_nid2obj(NID_client_auth))))) {
        X509_free(x);
        rc = COIO_ENOMEM;
        break;
      }
    } else if (X509_get_extension_flags(x) & EXFLAG_SS) {
      X509_free(x); /* a self-signed certificate among the intermediates */
      continue;
    }
    /* Duplicates (a root seen through two locations) are accepted and
     * ignored by OpenSSL. */
    if (X509_STORE_add_cert(store, x) == 1)
      (*count)++;
    else
      ERR_clear_error();
    X509_free(x);
  }
  if (c)
    CertFreeCertificateContext(c); /* the loop stopped early */
  return rc;
}

/* The UTF-8 value of an environment variable, malloc'd, or NULL when it is
 * unset or empty (or cannot be converted). */
static char *env_utf8(const wchar_t *name) {
  DWORD n = GetEnvironmentVariableW(name, NULL, 0), got;
  wchar_t *w;
  char *s = NULL;
  int len;
  if (n <= 1 || !(w = malloc(n * sizeof *w)))
    return NULL;
  got = GetEnvironmentVariableW(name, w, n);
  if (got > 0 && got < n &&
      (len = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL)) > 0 &&
      (s = malloc((size_t)len)) != NULL &&
      WideCharToMultiByte(CP_UTF8, 0, w, -1, s, len, NULL, NULL) != len) {
    free(s);
    s = NULL;
  }
  free(w);
  return s;
}

int coio__tls_store_load_default(void *ssl_ctx) {
  X509_STORE *store;
  HCERTSTORE roots, cas, disallowed;
  size_t count = 0;
  char *file, *dir;
  int rc = 0;
  if (!ssl_ctx)
    return COIO_EINVAL;
  if (!(store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx)))
    return COIO_ETLS;

  roots = open_collection(L"ROOT");
  cas = open_collection(L"CA");
  disallowed = open_collection(L"Disallowed");
  if (roots)
    rc = copy_store(store, roots, disallowed, 1, &count);
  if (rc == 0 && cas)
    rc = copy_store(store, cas, disallowed, 0, &count);
  if (disallowed)
    CertCloseStore(disallowed, 0);
  if (cas)
    CertCloseStore(cas, 0);
  if (roots)
    CertCloseStore(roots, 0);
  if (rc != 0)
    return rc;

  /* SSL_CERT_FILE / SSL_CERT_DIR, as OpenSSL's default paths on POSIX. */
  if ((file = env_utf8(L"SSL_CERT_FILE")) != NULL) {
    if (X509_STORE_load_file(store, file) != 1)
      ERR_clear_error();
    free(file);
  }
  if ((dir = env_utf8(L"SSL_CERT_DIR")) != NULL) {
    if (X509_STORE_load_path(store, dir) != 1)
      ERR_clear_error();
    free(dir);
  }
  return 0;
}
