/* common/sys.h - the few OS primitives the loop core needs: a mutex, an
 * atomic int, the monotonic clock. Header-only wrappers so that common/
 * code stays free of #ifdef _WIN32; the clock lives in clock_posix.c and
 * clock_win.c. MSVC-compatible: no GNU extensions on the Windows path. */
#ifndef COIO_COMMON_SYS_H
#define COIO_COMMON_SYS_H

#include <stdint.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
typedef SRWLOCK coio__mutex_t;
static inline void coio__mutex_init(coio__mutex_t *m) { InitializeSRWLock(m); }
static inline void coio__mutex_destroy(coio__mutex_t *m) { (void)m; }
static inline void coio__mutex_lock(coio__mutex_t *m) { AcquireSRWLockExclusive(m); }
static inline void coio__mutex_unlock(coio__mutex_t *m) { ReleaseSRWLockExclusive(m); }
typedef volatile LONG coio__atomic_int;
static inline int coio__atomic_load(coio__atomic_int *a) { return (int)InterlockedCompareExchange(a, 0, 0); }
static inline void coio__atomic_store(coio__atomic_int *a, int v) { InterlockedExchange(a, v); }
static inline int coio__atomic_exchange(coio__atomic_int *a, int v) { return (int)InterlockedExchange(a, v); }
typedef volatile LONG64 coio__atomic_u64;
static inline uint64_t coio__atomic_inc64(coio__atomic_u64 *a) { return (uint64_t)InterlockedIncrement64(a); }
#else
#include <pthread.h>
#include <stdatomic.h>
typedef pthread_mutex_t coio__mutex_t;
static inline void coio__mutex_init(coio__mutex_t *m) { pthread_mutex_init(m, NULL); }
static inline void coio__mutex_destroy(coio__mutex_t *m) { pthread_mutex_destroy(m); }
static inline void coio__mutex_lock(coio__mutex_t *m) { pthread_mutex_lock(m); }
static inline void coio__mutex_unlock(coio__mutex_t *m) { pthread_mutex_unlock(m); }
typedef atomic_int coio__atomic_int;
static inline int coio__atomic_load(coio__atomic_int *a) { return atomic_load(a); }
static inline void coio__atomic_store(coio__atomic_int *a, int v) { atomic_store(a, v); }
static inline int coio__atomic_exchange(coio__atomic_int *a, int v) { return atomic_exchange(a, v); }
typedef atomic_ullong coio__atomic_u64;
static inline uint64_t coio__atomic_inc64(coio__atomic_u64 *a) { return (uint64_t)atomic_fetch_add(a, 1) + 1; }
#endif

#if defined(_MSC_VER)
#define COIO__THREAD_LOCAL __declspec(thread)
#else
#define COIO__THREAD_LOCAL _Thread_local
#endif

/* Monotonic time in nanoseconds (clock_posix.c / clock_win.c). */
uint64_t coio__now_ns(void);

/* One-time process setup (WSAStartup on Windows; nothing on POSIX).
 * Returns 0 or a COIO_E* code. Thread safe. */
int coio__os_init(void);

#endif /* COIO_COMMON_SYS_H */
