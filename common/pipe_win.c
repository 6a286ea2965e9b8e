/* common/pipe_win.c - pipe ends on Windows (coio_pipe_open / close).
 *
 * Anonymous pipes (CreatePipe) are synchronous: they cannot be associated
 * with a completion port (error 87, PITFALLS section 2). So a pipe pair is
 * a named pipe with a name nobody else can guess (process id, a counter
 * and random bits), as CPython's windows_utils.pipe does: the read end is
 * the server instance, inbound, with FILE_FLAG_FIRST_PIPE_INSTANCE (if the
 * name exists already, someone raced us: fail rather than join their pipe)
 * and PIPE_REJECT_REMOTE_CLIENTS; the write end is opened by name. Neither
 * is inheritable (the spawner makes its child's end inheritable itself,
 * PITFALLS section 2: handle-inheritance race). */
#include <windows.h>

#include <stdio.h>

#include "coio/error.h"
#include "coio/net.h"
#include "error_internal.h"
#include "sys.h"

#define PIPE_BUF_SIZE 65536
#define PIPE_ATTEMPTS 8

static volatile LONG pipe_counter;

static int pipe_attempt(coio_pipe_t ends[2], int flags) {
  wchar_t name[96];
  HANDLE r, w;
  OVERLAPPED ov;
  DWORD e, rflags, wflags;
  unsigned long long rnd = ((unsigned long long)GetTickCount64() << 20) ^
                           (unsigned long long)(uintptr_t)&name ^ (unsigned long long)rand();
  _snwprintf(name, sizeof name / sizeof name[0] - 1, L"\\\\.\\pipe\\coio-%lu-%ld-%llx",
             (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&pipe_counter), rnd);
  name[sizeof name / sizeof name[0] - 1] = 0;
  rflags = PIPE_ACCESS_INBOUND | FILE_FLAG_FIRST_PIPE_INSTANCE;
  if (!(flags & COIO_PIPE_READ_BLOCKING))
    rflags |= FILE_FLAG_OVERLAPPED;
  r = CreateNamedPipeW(name, rflags, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                         PIPE_REJECT_REMOTE_CLIENTS,
                       1, PIPE_BUF_SIZE, PIPE_BUF_SIZE, 0, NULL);
  if (r == INVALID_HANDLE_VALUE) {
    e = GetLastError();
    /* Someone holds this name: try another (the caller loops). */
    return e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY ? COIO_EEXIST
                                                            : coio__err_from_win32(e);
  }
  wflags = (flags & COIO_PIPE_WRITE_BLOCKING) ? 0 : FILE_FLAG_OVERLAPPED;
  w = CreateFileW(name, GENERIC_WRITE | FILE_READ_ATTRIBUTES, 0, NULL, OPEN_EXISTING,
                  wflags | SECURITY_SQOS_PRESENT | SECURITY_ANONYMOUS, NULL);
  if (w == INVALID_HANDLE_VALUE) {
    e = GetLastError();
    CloseHandle(r);
    return coio__err_from_win32(e);
  }
  /* The client is connected already: ConnectNamedPipe says so with
   * ERROR_PIPE_CONNECTED (535; Wine matches, PITFALLS section 2). An
   * overlapped server handle needs an OVERLAPPED; it completes at once. */
  memset(&ov, 0, sizeof ov);
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!ov.hEvent) {
    e = GetLastError();
    CloseHandle(w);
    CloseHandle(r);
    return coio__err_from_win32(e);
  }
  if (!ConnectNamedPipe(r, (flags & COIO_PIPE_READ_BLOCKING) ? NULL : &ov)) {
    DWORD got;
    e = GetLastError();
    if (e == ERROR_IO_PENDING && GetOverlappedResult(r, &ov, &got, TRUE))
      e = ERROR_PIPE_CONNECTED;
    if (e != ERROR_PIPE_CONNECTED) {
      CloseHandle(ov.hEvent);
      CloseHandle(w);
      CloseHandle(r);
      return coio__err_from_win32(e);
    }
  }
  CloseHandle(ov.hEvent);
  ends[0] = r;
  ends[1] = w;
  return 0;
}

int coio_pipe_open(coio_pipe_t ends[2], int flags) {
  int i, rc = COIO_EEXIST;
  if (!ends || (flags & ~(COIO_PIPE_READ_BLOCKING | COIO_PIPE_WRITE_BLOCKING)))
    return COIO_EINVAL;
  for (i = 0; i < PIPE_ATTEMPTS && rc == COIO_EEXIST; i++)
    rc = pipe_attempt(ends, flags);
  return rc;
}

int coio_pipe_close(coio_pipe_t end) {
  if (end == COIO_INVALID_PIPE || end == NULL)
    return COIO_EBADF;
  if (!CloseHandle((HANDLE)end))
    return coio__err_from_win32(GetLastError());
  return 0;
}
