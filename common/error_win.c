/* common/error_win.c - Win32, Winsock and NTSTATUS codes to COIO_E*.
 *
 * One switch takes both Win32 errors (GetLastError) and Winsock errors
 * (WSAGetLastError): they share one number space (WSA codes are 10000+, and
 * the WSA_* overlapped codes are the Win32 ones: WSA_OPERATION_ABORTED is
 * ERROR_OPERATION_ABORTED), so only the ERROR_* spelling appears below.
 *
 * NTSTATUS values come from completion packets: GetQueuedCompletionStatusEx
 * entries carry no error code, the status sits in OVERLAPPED.Internal
 * (../shared/PITFALLS.md section 1). They are turned into Win32 errors by
 * ntdll's RtlNtStatusToDosError (looked up at run time: it is exported but
 * not in every import library) and then mapped here. Useful consequences:
 * STATUS_CONNECTION_RESET and the disconnect statuses become
 * ERROR_NETNAME_DELETED (64), STATUS_CANCELLED becomes
 * ERROR_OPERATION_ABORTED (995), STATUS_CONNECTION_REFUSED becomes
 * ERROR_CONNECTION_REFUSED (1225), STATUS_IO_TIMEOUT ERROR_SEM_TIMEOUT (121).
 *
 * The choices follow what the same condition gives on Linux, so that code
 * checking for, say, COIO_ECONNRESET works on every platform. */
#include <winsock2.h>
#include <windows.h>

#include "error_internal.h"

/* Not in every SDK's winerror.h (mingw-w64 12 lacks both). */
#ifndef ERROR_HANDLES_CLOSED
#define ERROR_HANDLES_CLOSED 676L
#endif
#ifndef ERROR_ELEVATION_REQUIRED
#define ERROR_ELEVATION_REQUIRED 740L
#endif

int coio__err_from_win32(unsigned long err) {
  switch (err) {
  case ERROR_SUCCESS:
    return 0;

  /* ---- arguments, handles, memory ---- */
  case ERROR_INVALID_FUNCTION:
  case ERROR_INVALID_DATA:
  case ERROR_INVALID_PARAMETER:
  case ERROR_INVALID_FLAGS:
  case ERROR_INVALID_ADDRESS:
  case ERROR_NOACCESS: /* a bad buffer pointer: EFAULT on POSIX */
  case ERROR_BAD_ARGUMENTS:
  case ERROR_INVALID_NAME:
  case ERROR_NO_UNICODE_TRANSLATION:
  case WSAEINVAL:
  case WSAEFAULT:
  case WSAEDESTADDRREQ:
  case WSAEPROTOTYPE:
  case WSAENOPROTOOPT:
    return COIO_EINVAL;
  case ERROR_INVALID_HANDLE:
  case ERROR_DIRECT_ACCESS_HANDLE:
  case WSAEBADF:
    return COIO_EBADF;
  case WSAENOTSOCK:
    return COIO_ENOTSOCK;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_NOT_ENOUGH_QUOTA:
  case ERROR_NO_SYSTEM_RESOURCES:
  case ERROR_NONPAGED_SYSTEM_RESOURCES:
  case ERROR_PAGED_SYSTEM_RESOURCES:
  case ERROR_COMMITMENT_LIMIT:
  case WSAENOBUFS:
    return COIO_ENOMEM;
  case ERROR_TOO_MANY_OPEN_FILES:
  case WSAEMFILE:
  case WSAEPROCLIM:
    return COIO_EMFILE;
  case ERROR_INSUFFICIENT_BUFFER:
    return COIO_ERANGE;

  /* ---- files and permissions ---- */
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_MOD_NOT_FOUND:
  case ERROR_BAD_NETPATH:
  case ERROR_NOT_FOUND: /* e.g. CancelIoEx: nothing to cancel */
    return COIO_ENOENT;
  case ERROR_FILE_EXISTS:
  case ERROR_ALREADY_EXISTS:
    return COIO_EEXIST;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION:
  case ERROR_WRITE_PROTECT:
  case ERROR_NETWORK_ACCESS_DENIED:
  case ERROR_ELEVATION_REQUIRED:
  case WSAEACCES:
    return COIO_EACCES;
  case ERROR_PRIVILEGE_NOT_HELD:
    return COIO_EPERM;
  case ERROR_HANDLE_DISK_FULL:
  case ERROR_DISK_FULL:
    return COIO_ENOSPC;
  case ERROR_GEN_FAILURE:
  case ERROR_CRC:
  case ERROR_IO_DEVICE:
  case ERROR_UNEXP_NET_ERR:
    return COIO_EIO;
  case ERROR_BUSY:
  case ERROR_PIPE_BUSY:
    return COIO_EBUSY;

  /* ---- processes (CreateProcessW) ---- */
  case ERROR_BAD_EXE_FORMAT:  /* not a program (or a script CreateProcess cannot run) */
  case ERROR_BAD_FORMAT:
  case ERROR_INVALID_EXE_SIGNATURE:
  case ERROR_EXE_MARKED_INVALID:
  case ERROR_EXE_MACHINE_TYPE_MISMATCH: /* another architecture */
  case ERROR_CHILD_NOT_COMPLETE:        /* cannot run in Win32 mode */
    return COIO_ENOEXEC;
  case ERROR_DIRECTORY: /* the working directory is not one */
    return COIO_ENOENT;

  /* ---- not available ---- */
  case ERROR_NOT_SUPPORTED:
  case WSAEOPNOTSUPP:
  case WSAEPROTONOSUPPORT:
  case WSAESOCKTNOSUPPORT:
    return COIO_ENOTSUP;
  case ERROR_CALL_NOT_IMPLEMENTED:
  case ERROR_PROC_NOT_FOUND:
  case WSASYSNOTREADY:
  case WSAVERNOTSUPPORTED:
    return COIO_ENOSYS;
  case WSAEAFNOSUPPORT:
  case WSAEPFNOSUPPORT:
    return COIO_EAFNOSUPPORT;

  /* ---- timing and cancellation ---- */
  case ERROR_OPERATION_ABORTED: /* CancelIoEx, or the handle closed */
  case ERROR_CANCELLED:
  case WSAECANCELLED:
  case WSA_E_CANCELLED:
  /* Wine: a WSARecv pending when its socket is closed ends with
   * STATUS_HANDLES_CLOSED (PITFALLS section 1); the operation was
   * aborted by the close, like 995 on Windows. */
  case ERROR_HANDLES_CLOSED:
    return COIO_ECANCELED;
  case WAIT_TIMEOUT:
  case ERROR_SEM_TIMEOUT: /* STATUS_IO_TIMEOUT */
  case ERROR_TIMEOUT:
  case WSAETIMEDOUT:
    return COIO_ETIMEDOUT;
  case WSAEWOULDBLOCK:
  case ERROR_IO_INCOMPLETE:
    return COIO_EAGAIN;
  case ERROR_IO_PENDING: /* started, completes later: EINPROGRESS on POSIX */
  case WSAEINPROGRESS:
  case WSAEALREADY:
    return COIO_EALREADY;
  case WSAEINTR:
    return COIO_EINTR;

  /* ---- connections and pipes ---- */
  case ERROR_NETNAME_DELETED: /* STATUS_CONNECTION_RESET, STATUS_*_DISCONNECT */
  case WSAECONNRESET:
  case WSAENETRESET:
    return COIO_ECONNRESET;
  case ERROR_CONNECTION_REFUSED:
  case WSAECONNREFUSED:
  /* ICMP port unreachable on UDP: Linux reports ECONNREFUSED. */
  case ERROR_PORT_UNREACHABLE:
    return COIO_ECONNREFUSED;
  case ERROR_CONNECTION_ABORTED:
  case ERROR_REQUEST_ABORTED:
  case WSAECONNABORTED:
    return COIO_ECONNABORTED;
  case ERROR_BROKEN_PIPE:  /* read end: the writer went away */
  case ERROR_NO_DATA:      /* write end: the pipe is being closed */
  case ERROR_BAD_PIPE:
  case ERROR_PIPE_NOT_CONNECTED:
  case ERROR_PIPE_LISTENING: /* a server end with no client (any more) */
  case WSAESHUTDOWN:       /* send after shutdown(SD_SEND): EPIPE on Linux */
    return COIO_EPIPE;
  case ERROR_CONNECTION_INVALID:
  case WSAENOTCONN:
    return COIO_ENOTCONN;
  case ERROR_ADDRESS_ALREADY_ASSOCIATED:
  case WSAEADDRINUSE:
    return COIO_EADDRINUSE;
  case WSAEADDRNOTAVAIL:
    return COIO_EADDRNOTAVAIL;
  case ERROR_NETWORK_UNREACHABLE:
  case ERROR_PROTOCOL_UNREACHABLE:
  case WSAENETUNREACH:
  case WSAENETDOWN:
    return COIO_ENETUNREACH;
  case ERROR_HOST_UNREACHABLE:
  case WSAEHOSTUNREACH:
  case WSAEHOSTDOWN:
    return COIO_EHOSTUNREACH;
  case ERROR_MORE_DATA: /* a datagram or message larger than the buffer */
  case WSAEMSGSIZE:
    return COIO_EMSGSIZE;
  default:
    return COIO_EUNKNOWN;
  }
}

/* RtlNtStatusToDosError, found once. */
typedef ULONG(WINAPI *rtl_status_fn)(LONG status);
static INIT_ONCE rtl_once = INIT_ONCE_STATIC_INIT;
static rtl_status_fn rtl_status_to_dos;

static BOOL CALLBACK rtl_lookup(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  (void)once;
  (void)param;
  (void)ctx;
  if (ntdll) {
    /* Through void (*)(void): FARPROC and the real type differ, and gcc's
     * -Wcast-function-type accepts this one intermediate type. */
    void (*any)(void) = (void (*)(void))GetProcAddress(ntdll, "RtlNtStatusToDosError");
    rtl_status_to_dos = (rtl_status_fn)any;
  }
  return TRUE;
}

int coio__err_from_ntstatus(long status) {
  if (status == 0) /* STATUS_SUCCESS */
    return 0;
  InitOnceExecuteOnce(&rtl_once, rtl_lookup, NULL, NULL);
  if (!rtl_status_to_dos) /* ntdll is always there; be safe anyway */
    return COIO_EUNKNOWN;
  /* ERROR_MR_MID_NOT_FOUND (317) for a status it does not know: falls to
   * the default, COIO_EUNKNOWN. */
  return coio__err_from_win32(rtl_status_to_dos((LONG)status));
}
