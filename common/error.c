/* common/error.c - messages and names of the portable codes. The mapping
 * from system errors lives in error_posix.c and error_win.c. */
#include "coio/error.h"

const char *coio_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define COIO_ERR_MSG_(name, val, msg) \
  case (val):                         \
    return msg;
    COIO_ERRNO_MAP(COIO_ERR_MSG_)
#undef COIO_ERR_MSG_
  default:
    return "unknown error";
  }
}

const char *coio_err_name(int code) {
  switch (code) {
  case 0:
    return "0";
#define COIO_ERR_NAME_(name, val, msg) \
  case (val):                          \
    return "COIO_" #name;
    COIO_ERRNO_MAP(COIO_ERR_NAME_)
#undef COIO_ERR_NAME_
  default:
    return "COIO_EUNKNOWN";
  }
}
