/* common/error_internal.h - mapping system errors to COIO_E* codes, in one
 * place: error_posix.c (errno) and error_win.c (Win32, WSA, NTSTATUS). */
#ifndef COIO_COMMON_ERROR_INTERNAL_H
#define COIO_COMMON_ERROR_INTERNAL_H

#include "coio/error.h"

#ifdef _WIN32
#include <stdint.h>
int coio__err_from_win32(unsigned long win32_error); /* also takes WSA codes */
int coio__err_from_ntstatus(long status);
#else
int coio__err_from_errno(int err);
#endif

#endif
