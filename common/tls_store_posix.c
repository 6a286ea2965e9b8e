/* common/tls_store_posix.c - the system trust store on POSIX: OpenSSL's
 * default verify paths (see tls_store.h). SSL_CTX_set_default_verify_paths
 * reads SSL_CERT_FILE / SSL_CERT_DIR when set, else the CA file and hashed
 * directory of OpenSSL's build (the distribution's bundle); it ignores
 * locations that do not exist, so only an allocation failure fails it. */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "coio/error.h"
#include "tls_store.h"

int coio__tls_store_load_default(void *ssl_ctx) {
  unsigned long e;
  if (!ssl_ctx)
    return COIO_EINVAL;
  if (SSL_CTX_set_default_verify_paths((SSL_CTX *)ssl_ctx) == 1)
    return 0;
  e = ERR_peek_last_error();
  ERR_clear_error();
  return ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE ? COIO_ENOMEM : COIO_ETLS;
}
