/* common/tls_store_posix.c - the system trust store on POSIX: OpenSSL's
 * default verify paths (see tls_store.h): SSL_CERT_FILE / SSL_CERT_DIR when
 * set, else the CA file and hashed directory of OpenSSL's build (the
 * distribution's bundle). Locations that do not exist are skipped, as
 * SSL_CTX_set_default_verify_paths skips them, so only an allocation
 * failure fails the call.
 *
 * The CA file is parsed once per process and its certificates added to
 * each new context's store: OpenSSL 3.0 takes 50-70 ms to parse Debian's
 * 144-certificate bundle (measured on the 2-core VM of the README), which
 * SSL_CTX_set_default_verify_paths paid for every client context. The
 * cache is keyed by the file's path, device, inode, size and modification
 * time, so a changed bundle or another SSL_CERT_FILE is read again. The
 * hashed directory is looked up lazily by OpenSSL itself (cheap). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "coio/error.h"
#include "tls_store.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char *path;
  struct stat st;
  STACK_OF(X509_INFO) *infos; /* the file's certificates and CRLs */
} g_file;

static int same_file(const char *path, const struct stat *st) {
  return g_file.path && strcmp(g_file.path, path) == 0 && g_file.st.st_dev == st->st_dev &&
         g_file.st.st_ino == st->st_ino && g_file.st.st_size == st->st_size &&
         g_file.st.st_mtim.tv_sec == st->st_mtim.tv_sec &&
         g_file.st.st_mtim.tv_nsec == st->st_mtim.tv_nsec;
}

/* Under g_lock: g_file holds path's certificates (read now if needed).
 * 0, or COIO_ENOENT when the file cannot be read (skipped, not an error),
 * or COIO_ENOMEM. */
static int cache_file(const char *path) {
  struct stat st;
  STACK_OF(X509_INFO) *infos;
  char *copy;
  BIO *bio;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return COIO_ENOENT;
  if (same_file(path, &st))
    return 0;
  if (!(bio = BIO_new_file(path, "r")))
    return COIO_ENOENT;
  infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!infos) {
    /* Unreadable PEM: skipped, as OpenSSL skips a bad default file. */
    ERR_clear_error();
    return COIO_ENOENT;
  }
  if (!(copy = strdup(path))) {
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    return COIO_ENOMEM;
  }
  if (g_file.infos)
    sk_X509_INFO_pop_free(g_file.infos, X509_INFO_free);
  free(g_file.path);
  g_file.path = copy;
  g_file.st = st;
  g_file.infos = infos;
  return 0;
}

static int load_file(X509_STORE *store, const char *path) {
  int rc, i, n;
  pthread_mutex_lock(&g_lock);
  rc = cache_file(path);
  n = rc == 0 ? sk_X509_INFO_num(g_file.infos) : 0;
  for (i = 0; i < n && rc == 0; i++) {
    X509_INFO *info = sk_X509_INFO_value(g_file.infos, i);
    /* The store takes its own references; a duplicate is not an error. */
    if ((info->x509 && !X509_STORE_add_cert(store, info->x509)) ||
        (info->crl && !X509_STORE_add_crl(store, info->crl)))
      rc = COIO_ENOMEM;
  }
  pthread_mutex_unlock(&g_lock);
  ERR_clear_error();
  return rc == COIO_ENOENT ? 0 : rc;
}

int coio__tls_store_load_default(void *ssl_ctx) {
  X509_STORE *store;
  const char *file, *dir;
  int rc;
  if (!ssl_ctx || !(store = SSL_CTX_get_cert_store((SSL_CTX *)ssl_ctx)))
    return COIO_EINVAL;
  file = getenv(X509_get_default_cert_file_env());
  if (!file)
    file = X509_get_default_cert_file();
  dir = getenv(X509_get_default_cert_dir_env());
  if (!dir)
    dir = X509_get_default_cert_dir();
  if ((rc = load_file(store, file)) != 0)
    return rc;
  /* A missing directory is skipped too (lookups then find nothing). */
  if (dir && *dir && !X509_STORE_load_path(store, dir))
    ERR_clear_error();
  return 0;
}
