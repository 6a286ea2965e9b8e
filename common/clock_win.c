/* common/clock_win.c - the monotonic clock and process setup on Windows.
 *
 * The clock is QueryPerformanceCounter: monotonic, not adjusted by the wall
 * clock, sub-microsecond on every Windows since Vista. Its frequency is
 * fixed at boot, so it is read once (InitOnce, no data race).
 *
 * coio__os_init runs WSAStartup(2.2) once per process. Every entry point
 * that may touch a socket calls it first (loop creation, backend probe,
 * coio_socketpair). It must be thread safe by itself: Wine's WSAStartup is
 * not (Wine bug 60084, ../shared/PITFALLS.md sections 1 and 5), so the call
 * is serialised with InitOnceExecuteOnce. WSACleanup is never called: the
 * library cannot know when the last user is gone, and process exit releases
 * Winsock anyway. */
#include <winsock2.h>
#include <windows.h>

#include "error_internal.h"
#include "sys.h"

/* ---- clock -------------------------------------------------------------- */

static INIT_ONCE qpc_once = INIT_ONCE_STATIC_INIT;
static uint64_t qpc_freq; /* ticks per second; written once under qpc_once */

static BOOL CALLBACK qpc_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  LARGE_INTEGER f;
  (void)once;
  (void)param;
  (void)ctx;
  /* Cannot fail on XP and later; guard anyway so we never divide by 0. */
  if (!QueryPerformanceFrequency(&f) || f.QuadPart <= 0)
    f.QuadPart = 1000;
  qpc_freq = (uint64_t)f.QuadPart;
  return TRUE;
}

uint64_t coio__now_ns(void) {
  LARGE_INTEGER c;
  uint64_t ticks, freq;
  InitOnceExecuteOnce(&qpc_once, qpc_init, NULL, NULL);
  freq = qpc_freq;
  QueryPerformanceCounter(&c);
  ticks = (uint64_t)c.QuadPart;
  /* ticks * 1e9 overflows 64 bits after ~30 minutes of uptime at 10 MHz
   * (the usual frequency), so split into whole seconds and the remainder;
   * remainder * 1e9 < freq * 1e9 fits for any frequency below 18 GHz. */
  return (ticks / freq) * 1000000000ull + (ticks % freq) * 1000000000ull / freq;
}

/* ---- process setup ------------------------------------------------------ */

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;

/* param points at the caller's result. Returning FALSE leaves the INIT_ONCE
 * unset, so a later call tries again (WSASYSNOTREADY can be transient); a
 * thread that waited for a failed attempt runs the callback itself, so the
 * result it reads is always its own. */
static BOOL CALLBACK wsa_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  WSADATA data;
  int err, *rc = param;
  (void)once;
  (void)ctx;
  err = WSAStartup(MAKEWORD(2, 2), &data);
  if (err != 0) {
    *rc = coio__err_from_win32((unsigned long)err);
    return FALSE;
  }
  if (LOBYTE(data.wVersion) != 2 || HIBYTE(data.wVersion) != 2) {
    WSACleanup();
    *rc = COIO_ENOSYS;
    return FALSE;
  }
  *rc = 0;
  return TRUE;
}

int coio__os_init(void) {
  int rc = COIO_EUNKNOWN;
  if (InitOnceExecuteOnce(&wsa_once, wsa_init, &rc, NULL))
    return 0;
  return rc;
}
