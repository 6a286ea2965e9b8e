/* coio/platform.h - export macros and the portable socket type.
 *
 * Included by every other coio header. It never includes a platform header:
 * coio_socket_t has the size and signedness of the platform's own type
 * (int on POSIX, SOCKET = UINT_PTR on Windows) without pulling in winsock2.h. */
#ifndef COIO_PLATFORM_H
#define COIO_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define COIO_BEGIN_DECLS extern "C" {
#define COIO_END_DECLS }
#else
#define COIO_BEGIN_DECLS
#define COIO_END_DECLS
#endif

/* COIO_API marks the exported functions. Users of the static library define
 * COIO_STATIC (the coio::coio CMake target and the pkg-config file do). */
#if defined(_WIN32)
#if defined(COIO_BUILDING)
#define COIO_API __declspec(dllexport)
#elif defined(COIO_STATIC)
#define COIO_API
#else
#define COIO_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && defined(COIO_BUILDING)
#define COIO_API __attribute__((visibility("default")))
#else
#define COIO_API
#endif

#ifdef _WIN32
typedef uintptr_t coio_socket_t; /* SOCKET */
#define COIO_INVALID_SOCKET (~(coio_socket_t)0)
#else
typedef int coio_socket_t; /* a file descriptor */
#define COIO_INVALID_SOCKET (-1)
#endif

#endif /* COIO_PLATFORM_H */
