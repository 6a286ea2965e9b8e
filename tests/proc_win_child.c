/* tests/proc_win_child.c - the child tests/test_process_win.c starts. Its
 * first argument is a mode; it writes its answers to stdout (raw bytes, no
 * CRLF translation). Arguments are read with CommandLineToArgvW, so what it
 * reports is what a C program's wmain would see.
 *
 *   argv              the argument count, then each argument (argv[0] too)
 *                     as the hex of its UTF-8, one per line
 *   cmdline           the hex of GetCommandLineW's UTF-8
 *   env NAME...       per name: the hex of its value, or "-" when unset
 *   envblock          the environment block's entries, one per line (UTF-8)
 *   cwd               the current directory (UTF-8)
 *   exit CODE         exits with CODE (decimal or 0x hex, 32 bits)
 *   sleep MS          sleeps, exits 0
 *   cat               copies stdin to stdout until EOF
 *   outerr            writes "out\n" to stdout, then "err\n" to stderr
 *   stdtype           GetFileType of stdin, stdout, stderr ("none" if unset)
 *   handle VALUE NAME whether the handle VALUE is the event named NAME:
 *                     "absent" (not a handle here), "other" (a handle, but
 *                     another object), "same" (inherited)
 *   tree              starts "sleep 60000" as a grandchild (inheriting
 *                     nothing), prints its pid, sleeps 60 s
 *   ctrl              prints "ready", waits up to 10 s for a console event:
 *                     prints "ctrl-c" (exit 42) or "ctrl-break" (exit 43) */
#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_bytes(HANDLE h, const char *s, size_t n) {
  DWORD done;
  while (n > 0) {
    if (!WriteFile(h, s, n > 65536 ? 65536 : (DWORD)n, &done, NULL) || done == 0)
      return;
    s += done;
    n -= done;
  }
}

static void out(const char *s) { out_bytes(GetStdHandle(STD_OUTPUT_HANDLE), s, strlen(s)); }

/* UTF-16 (n units, or to the NUL when n < 0) to malloc'd UTF-8. */
static char *utf8(const wchar_t *w, int n) {
  int len = WideCharToMultiByte(CP_UTF8, 0, w, n, NULL, 0, NULL, NULL);
  char *s = malloc((size_t)len + 1);
  if (!s)
    exit(3);
  WideCharToMultiByte(CP_UTF8, 0, w, n, s, len, NULL, NULL);
  s[len] = 0;
  if (n < 0 && len > 0)
    s[len - 1] = 0;
  return s;
}

static void out_hex_line(const wchar_t *w) {
  static const char digits[] = "0123456789abcdef";
  char *s = utf8(w, -1), *h;
  size_t i, n = strlen(s);
  h = malloc(2 * n + 2);
  if (!h)
    exit(3);
  for (i = 0; i < n; i++) {
    h[2 * i] = digits[(unsigned char)s[i] >> 4];
    h[2 * i + 1] = digits[(unsigned char)s[i] & 15];
  }
  h[2 * n] = '\n';
  h[2 * n + 1] = 0;
  out(h);
  free(h);
  free(s);
}

static volatile LONG g_event = -1;

static BOOL WINAPI on_ctrl(DWORD type) {
  InterlockedExchange(&g_event, (LONG)type);
  return TRUE;
}

static int mode_handle(const wchar_t *value, const wchar_t *name) {
  HANDLE h = (HANDLE)(ULONG_PTR)_wcstoui64(value, NULL, 0), named;
  DWORD info;
  if (!GetHandleInformation(h, &info)) {
    out("absent\n");
    return 0;
  }
  /* Identity: reset the event through its name and see whether the handle
   * we were given follows (the parent made it signalled). */
  named = OpenEventW(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, name);
  if (!named || WaitForSingleObject(h, 0) != WAIT_OBJECT_0) {
    out("other\n");
  } else {
    ResetEvent(named);
    out(WaitForSingleObject(h, 0) == WAIT_TIMEOUT ? "same\n" : "other\n");
    SetEvent(named);
  }
  if (named)
    CloseHandle(named);
  return 0;
}

static int mode_tree(const wchar_t *self) {
  wchar_t cmd[1024];
  char buf[32];
  STARTUPINFOW si;
  PROCESS_INFORMATION pi;
  _snwprintf(cmd, 1023, L"\"%ls\" sleep 60000", self);
  cmd[1023] = 0;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessW(self, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
    return 4;
  snprintf(buf, sizeof buf, "%lu\n", (unsigned long)pi.dwProcessId);
  out(buf);
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  Sleep(60000);
  return 0;
}

int main(void) {
  int argc = 0, i;
  wchar_t **argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  wchar_t self[MAX_PATH];
  char buf[64];
  if (!argv || argc < 2)
    return 2;
  GetModuleFileNameW(NULL, self, MAX_PATH);
  if (wcscmp(argv[1], L"argv") == 0) {
    snprintf(buf, sizeof buf, "%d\n", argc);
    out(buf);
    for (i = 0; i < argc; i++)
      out_hex_line(argv[i]);
  } else if (wcscmp(argv[1], L"cmdline") == 0) {
    out_hex_line(GetCommandLineW());
  } else if (wcscmp(argv[1], L"env") == 0) {
    for (i = 2; i < argc; i++) {
      wchar_t v[4096];
      DWORD n = GetEnvironmentVariableW(argv[i], v, 4096);
      if (n == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND)
        out("-\n");
      else
        out_hex_line(n < 4096 ? v : L"(too long)");
    }
  } else if (wcscmp(argv[1], L"envblock") == 0) {
    wchar_t *b = GetEnvironmentStringsW(), *q;
    for (q = b; q && *q; q += wcslen(q) + 1) {
      char *s = utf8(q, -1);
      out(s);
      out("\n");
      free(s);
    }
  } else if (wcscmp(argv[1], L"cwd") == 0) {
    wchar_t d[4096];
    char *s;
    GetCurrentDirectoryW(4096, d);
    s = utf8(d, -1);
    out(s);
    free(s);
  } else if (wcscmp(argv[1], L"exit") == 0 && argc > 2) {
    ExitProcess((UINT)wcstoul(argv[2], NULL, 0));
  } else if (wcscmp(argv[1], L"sleep") == 0 && argc > 2) {
    Sleep((DWORD)wcstoul(argv[2], NULL, 0));
  } else if (wcscmp(argv[1], L"cat") == 0) {
    char data[4096];
    DWORD got;
    while (ReadFile(GetStdHandle(STD_INPUT_HANDLE), data, sizeof data, &got, NULL) && got > 0)
      out_bytes(GetStdHandle(STD_OUTPUT_HANDLE), data, got);
  } else if (wcscmp(argv[1], L"outerr") == 0) {
    out("out\n");
    out_bytes(GetStdHandle(STD_ERROR_HANDLE), "err\n", 4);
  } else if (wcscmp(argv[1], L"stdtype") == 0) {
    static const DWORD ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
    for (i = 0; i < 3; i++) {
      HANDLE h = GetStdHandle(ids[i]);
      if (h == NULL || h == INVALID_HANDLE_VALUE)
        snprintf(buf, sizeof buf, "none\n");
      else
        snprintf(buf, sizeof buf, "%lu\n", (unsigned long)GetFileType(h));
      out_bytes(GetStdHandle(STD_ERROR_HANDLE), buf, strlen(buf));
    }
  } else if (wcscmp(argv[1], L"handle") == 0 && argc > 3) {
    return mode_handle(argv[2], argv[3]);
  } else if (wcscmp(argv[1], L"tree") == 0) {
    return mode_tree(self);
  } else if (wcscmp(argv[1], L"ctrl") == 0) {
    DWORD waited = 0;
    SetConsoleCtrlHandler(NULL, FALSE); /* a new group starts with Ctrl+C ignored */
    SetConsoleCtrlHandler(on_ctrl, TRUE);
    out("ready\n");
    while (InterlockedCompareExchange(&g_event, -1, -1) == -1 && waited < 10000) {
      Sleep(10);
      waited += 10;
    }
    switch (InterlockedCompareExchange(&g_event, -1, -1)) {
    case CTRL_C_EVENT:
      out("ctrl-c\n");
      return 42;
    case CTRL_BREAK_EVENT:
      out("ctrl-break\n");
      return 43;
    default:
      return 1;
    }
  } else {
    return 2;
  }
  LocalFree(argv);
  return 0;
}
