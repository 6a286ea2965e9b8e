/* common/process_win.c - spawning and exit watching on Windows (see
 * process_internal.h; the command line, environment block and program
 * lookup are in process_win_cmdline.c).
 *
 * Standard streams. A PIPE is a uniquely named overlapped pipe pair from
 * coio_pipe_open (anonymous pipes cannot be overlapped, PITFALLS 2): the
 * parent's end overlapped, for the IOCP pipe transports, the child's end
 * synchronous (most programs expect that). INHERIT is the parent's
 * GetStdHandle (NUL when the parent has none), DEVNULL a new handle on NUL,
 * FD the caller's handle, STDOUT the handle stdout gets.
 *
 * Inheritance without races (PITFALLS 2). Every handle coio makes is
 * non-inheritable. For one CreateProcessW call the child's three handles
 * are inheritable copies (DuplicateHandle; our own fresh handles are just
 * made inheritable, as they are closed right after anyway), listed in
 * PROC_THREAD_ATTRIBUTE_HANDLE_LIST, so the child inherits exactly those:
 * not another child's pipe ends made inheritable at the same moment by
 * another thread, not an inheritable handle the program made for its own
 * purposes. The list holds only unique, inheritable, real handles: Windows
 * fails the call otherwise, and since Wine accepts non-inheritable ones,
 * create_process checks each itself so that a mistake shows under Wine too.
 * Console pseudo-handles (Windows 7: values ending in binary 11 that
 * GetConsoleMode accepts) are not kernel handles: they go in STARTUPINFO
 * but not in the list. The copies are closed as soon as CreateProcessW returns. A program
 * that calls CreateProcess itself with bInheritHandles=TRUE and no list can
 * still catch our copies in that short window: only that program can fix
 * that (by using a list too).
 *
 * KILL_TREE. The child starts suspended, goes into a new job object with
 * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, then runs: its descendants are born in
 * the job, kill_tree terminates the job, and freeing the process (closing
 * the job's last handle) kills what is left. Before Windows 8 a process
 * already in a job (a CI runner, a service) could not join another one:
 * AssignProcessToJobObject fails with ERROR_ACCESS_DENIED. Then the child
 * runs without a job and kill_tree kills the child alone (documented in
 * common/README.md); any other failure fails the spawn.
 *
 * Exit. RegisterWaitForSingleObject(WT_EXECUTEONLYONCE |
 * WT_EXECUTEINWAITTHREAD) on the process handle; the callback, on a pool
 * thread, only posts to the loop with coio_call_soon_threadsafe (PITFALLS
 * 2). The loop side unregisters the wait (UnregisterWaitEx with
 * INVALID_HANDLE_VALUE: waits for the callback to have returned; never
 * called from inside it), reads GetExitCodeProcess and calls exited.
 *
 * Lifetime. Only the loop's thread touches a record, except for the wait
 * callback, which reads loop and posts. A record is freed on the loop's
 * thread: by release when the exit was already delivered; else by the
 * posted callback when it finds the record released; else by
 * coio__proc_loop_close, which also drops posts not yet run (the loop drops
 * call_soon_threadsafe's queue without running it). The callback posts once
 * (WT_EXECUTEONLYONCE), so there is never more than one post to wait for.
 * A record the core has not released when its loop closes loses its wait
 * and stays until released (the core may still signal the child). All
 * records are in one process-wide list under g_lock, so that loop_close can
 * find a loop's records (the loop has no field for them). */
#include <windows.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "coio/net.h"
#include "error_internal.h"
#include "process_internal.h"
#include "process_win_cmdline.h"

#define KNOWN_FLAGS                                                                               \
  (COIO_PROCESS_NEW_GROUP | COIO_PROCESS_NEW_SESSION | COIO_PROCESS_NO_WINDOW |                   \
   COIO_PROCESS_KILL_TREE | COIO_PROCESS_VERBATIM_ARGS)

/* Windows' signal.h has no SIGKILL: coio/process.h gives it POSIX's 9. */
#ifndef SIGKILL
#define SIGKILL 9
#endif

struct coio__proc {
  struct coio__proc *prev, *next; /* g_procs, under g_lock */
  int listed;
  coio_loop_t *loop;
  HANDLE process;
  HANDLE job;  /* KILL_TREE: the job object; NULL without one */
  HANDLE wait; /* the registered wait; NULL once unregistered */
  DWORD pid;
  unsigned flags;
  coio__proc_exited_cb exited;
  void *arg;
  int delivered; /* the exit was reported (loop thread) */
  int released;  /* the core let go */
  int detached;  /* the loop closed: no wait, no post will come */
};

static SRWLOCK g_lock = SRWLOCK_INIT;
static coio__proc_t *g_procs;

static void list_add(coio__proc_t *p) {
  AcquireSRWLockExclusive(&g_lock);
  p->prev = NULL;
  p->next = g_procs;
  if (g_procs)
    g_procs->prev = p;
  g_procs = p;
  p->listed = 1;
  ReleaseSRWLockExclusive(&g_lock);
}

/* Under g_lock. */
static void list_unlink_locked(coio__proc_t *p) {
  if (!p->listed)
    return;
  if (p->prev)
    p->prev->next = p->next;
  else
    g_procs = p->next;
  if (p->next)
    p->next->prev = p->prev;
  p->prev = p->next = NULL;
  p->listed = 0;
}

static void unwatch(coio__proc_t *p) {
  if (p->wait) {
    /* INVALID_HANDLE_VALUE: returns once a running callback has returned. */
    UnregisterWaitEx(p->wait, INVALID_HANDLE_VALUE);
    p->wait = NULL;
  }
}

static void proc_free(coio__proc_t *p) {
  AcquireSRWLockExclusive(&g_lock);
  list_unlink_locked(p);
  ReleaseSRWLockExclusive(&g_lock);
  unwatch(p);
  CloseHandle(p->process);
  if (p->job) /* KILL_ON_JOB_CLOSE: what is left of the tree dies here */
    CloseHandle(p->job);
  free(p);
}

/* ---- exit ------------------------------------------------------------------------------ */

/* On the loop's thread, posted once by on_signaled. */
static void on_exit_posted(coio_loop_t *loop, void *arg) {
  coio__proc_t *p = arg;
  DWORD code = 1;
  (void)loop;
  if (p->released) {
    proc_free(p);
    return;
  }
  unwatch(p);
  if (!GetExitCodeProcess(p->process, &code))
    code = 1;
  p->delivered = 1;
  /* Last: the callback may release p. The 32-bit code as an int:
   * 0xC0000005 reads as a negative number. */
  p->exited(p->arg, (int)code);
}

/* On a pool thread, once: the process handle was signalled. */
static VOID CALLBACK on_signaled(PVOID arg, BOOLEAN timed_out) {
  coio__proc_t *p = arg;
  int i, rc;
  (void)timed_out;
  /* COIO_ECLOSED: the loop is closing; coio__proc_loop_close takes over.
   * COIO_ENOMEM: try again for a while (the callback must not fail). */
  for (i = 0; i < 1000; i++) {
    rc = coio_call_soon_threadsafe(p->loop, on_exit_posted, p);
    if (rc != COIO_ENOMEM)
      break;
    Sleep(1);
  }
}

/* ---- the standard streams ---------------------------------------------------------------- */

typedef struct stdio_set {
  HANDLE child[3];  /* what the child gets (owned, inheritable), or a pseudo-handle */
  int owned[3];     /* child[i] is ours to close */
  coio_pipe_t parent[3];
} stdio_set_t;

/* A Windows 7 console pseudo-handle (kernel handles are multiples of 4;
 * anything else ending in binary 11 is not a handle at all). */
static int is_pseudo(HANDLE h) {
  DWORD mode;
  return ((ULONG_PTR)h & 3) == 3 && GetConsoleMode(h, &mode);
}

static int dup_inheritable(HANDLE h, HANDLE *out) {
  if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), out, 0, TRUE,
                       DUPLICATE_SAME_ACCESS)) {
    DWORD e = GetLastError();
    *out = NULL;
    return e == ERROR_INVALID_HANDLE ? COIO_EBADF : coio__err_from_win32(e);
  }
  return 0;
}

static int open_nul(HANDLE *out) {
  SECURITY_ATTRIBUTES sa;
  sa.nLength = sizeof sa;
  sa.lpSecurityDescriptor = NULL;
  sa.bInheritHandle = TRUE; /* for one CreateProcessW call, in the list */
  *out = CreateFileW(L"NUL", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                     &sa, OPEN_EXISTING, 0, NULL);
  if (*out == INVALID_HANDLE_VALUE) {
    *out = NULL;
    return coio__err_from_win32(GetLastError());
  }
  return 0;
}

static void stdio_close(stdio_set_t *s, int with_parent) {
  int i;
  for (i = 0; i < 3; i++) {
    if (s->owned[i] && s->child[i])
      CloseHandle(s->child[i]);
    s->child[i] = NULL;
    s->owned[i] = 0;
    if (with_parent && s->parent[i] != COIO_INVALID_PIPE) {
      CloseHandle((HANDLE)s->parent[i]);
      s->parent[i] = COIO_INVALID_PIPE;
    }
  }
}

static int stdio_make(stdio_set_t *s, const coio_process_options_t *o) {
  static const DWORD std_ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
  int i, rc = 0;
  for (i = 0; i < 3; i++) {
    s->child[i] = NULL;
    s->owned[i] = 0;
    s->parent[i] = COIO_INVALID_PIPE;
  }
  for (i = 0; i < 3 && rc == 0; i++) {
    HANDLE h;
    switch (o->stdio[i].kind) {
    case COIO_STDIO_PIPE: {
      coio_pipe_t ends[2];
      /* ends[0] reads, ends[1] writes; the child's end blocking. */
      rc = coio_pipe_open(ends, i == 0 ? COIO_PIPE_READ_BLOCKING : COIO_PIPE_WRITE_BLOCKING);
      if (rc)
        break;
      s->child[i] = (HANDLE)(i == 0 ? ends[0] : ends[1]);
      s->parent[i] = i == 0 ? ends[1] : ends[0];
      s->owned[i] = 1;
      if (!SetHandleInformation(s->child[i], HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT))
        rc = coio__err_from_win32(GetLastError());
      break;
    }
    case COIO_STDIO_INHERIT:
      h = GetStdHandle(std_ids[i]);
      if (h == NULL || h == INVALID_HANDLE_VALUE) {
        rc = open_nul(&s->child[i]); /* the parent has none: NUL */
      } else if (is_pseudo(h)) {
        s->child[i] = h; /* a Windows 7 console handle: not in the list */
        break;
      } else if (dup_inheritable(h, &s->child[i]) != 0) {
        rc = open_nul(&s->child[i]); /* a stale std handle: NUL rather than fail */
      }
      s->owned[i] = s->child[i] != NULL;
      break;
    case COIO_STDIO_DEVNULL:
      rc = open_nul(&s->child[i]);
      s->owned[i] = s->child[i] != NULL;
      break;
    case COIO_STDIO_FD:
      h = (HANDLE)o->stdio[i].fd;
      if (h == NULL || h == INVALID_HANDLE_VALUE) {
        rc = COIO_EBADF;
      } else if (is_pseudo(h)) {
        s->child[i] = h;
      } else {
        rc = dup_inheritable(h, &s->child[i]);
        s->owned[i] = s->child[i] != NULL;
      }
      break;
    case COIO_STDIO_STDOUT:
      if (i != 2)
        rc = COIO_EINVAL;
      else
        s->child[2] = s->child[1]; /* owned (and closed) as stdout */
      break;
    default:
      rc = COIO_EINVAL;
      break;
    }
  }
  if (rc)
    stdio_close(s, 1);
  return rc;
}

/* ---- spawning ------------------------------------------------------------------------------ */

typedef struct spawn_strings {
  wchar_t *app, *cmdline, *env, *cwd;
} spawn_strings_t;

static void strings_free(spawn_strings_t *s) {
  free(s->app);
  free(s->cmdline);
  free(s->env);
  free(s->cwd);
}

static int build_strings(const coio__spawn_args_t *a, spawn_strings_t *s) {
  const coio_process_options_t *o = &a->opts;
  int verbatim = (o->flags & COIO_PROCESS_VERBATIM_ARGS) != 0, rc;
  memset(s, 0, sizeof *s);
  if (o->cwd) {
    DWORD attr;
    if ((rc = coio__win_utf16(o->cwd, &s->cwd)) != 0)
      return rc;
    attr = *s->cwd ? GetFileAttributesW(s->cwd) : INVALID_FILE_ATTRIBUTES;
    if (attr == INVALID_FILE_ATTRIBUTES || !(attr & FILE_ATTRIBUTE_DIRECTORY))
      return COIO_ENOENT; /* CreateProcessW would say ERROR_DIRECTORY */
  }
  if (o->env && (rc = coio__win_env_block(o->env, o->env_extend, &s->env)) != 0)
    return rc;
  if (a->shell_cmd) {
    if ((rc = coio__win_comspec(&s->app)) != 0)
      return rc;
    return coio__win_shell_cmdline(s->app, a->shell_cmd, &s->cmdline);
  }
  if ((rc = coio__win_find_program(a->argv[0], o->env, s->cwd, &s->app)) != 0)
    return rc;
  if (coio__win_is_batch(s->app)) {
    /* Through cmd.exe explicitly, with the arguments checked (BatBadBut:
     * process_win_cmdline.c). */
    wchar_t *bat = s->app;
    s->app = NULL;
    if ((rc = coio__win_comspec(&s->app)) == 0)
      rc = coio__win_batch_cmdline(s->app, bat, a->argv, verbatim, &s->cmdline);
    free(bat);
    return rc;
  }
  return coio__win_cmdline(a->argv, verbatim, &s->cmdline);
}

/* Makes the job for KILL_TREE and puts the (suspended) child in it. 0 and
 * *job (NULL when nested jobs are refused: see the top of this file). */
static int make_job(HANDLE process, HANDLE *job) {
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
  HANDLE j = CreateJobObjectW(NULL, NULL);
  DWORD e;
  *job = NULL;
  if (!j)
    return coio__err_from_win32(GetLastError());
  memset(&li, 0, sizeof li);
  li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(j, JobObjectExtendedLimitInformation, &li, sizeof li)) {
    e = GetLastError();
    CloseHandle(j);
    return coio__err_from_win32(e);
  }
  if (!AssignProcessToJobObject(j, process)) {
    e = GetLastError();
    CloseHandle(j);
    return e == ERROR_ACCESS_DENIED ? 0 : coio__err_from_win32(e);
  }
  *job = j;
  return 0;
}

static int create_process(const coio__spawn_args_t *a, spawn_strings_t *str, stdio_set_t *io,
                          PROCESS_INFORMATION *pi) {
  const coio_process_options_t *o = &a->opts;
  STARTUPINFOEXW si;
  HANDLE list[3];
  SIZE_T size = 0;
  LPPROC_THREAD_ATTRIBUTE_LIST attrs = NULL;
  DWORD flags = o->creation_flags | EXTENDED_STARTUPINFO_PRESENT, e = 0;
  int i, j, n = 0, rc = 0;
  BOOL ok;
  for (i = 0; i < 3; i++) { /* unique, real, inheritable (ours) */
    int dup = 0;
    /* Ours are real and inheritable; the others are pseudo-handles or
     * stderr sharing stdout's (listed as stdout's). */
    DWORD hf = 0;
    if (!io->owned[i])
      continue;
    /* Windows rejects a non-inheritable handle in the list, Wine does not:
     * check it here so that a mistake shows under Wine too. */
    if (!GetHandleInformation(io->child[i], &hf) || !(hf & HANDLE_FLAG_INHERIT))
      return COIO_EBADF;
    for (j = 0; j < n; j++)
      dup |= list[j] == io->child[i];
    if (!dup)
      list[n++] = io->child[i];
  }
  memset(&si, 0, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = io->child[0];
  si.StartupInfo.hStdOutput = io->child[1];
  si.StartupInfo.hStdError = io->child[2];
  if (n > 0) {
    InitializeProcThreadAttributeList(NULL, 1, 0, &size);
    if (!size || !(attrs = malloc(size)))
      return COIO_ENOMEM;
    if (!InitializeProcThreadAttributeList(attrs, 1, 0, &size)) {
      e = GetLastError();
      free(attrs);
      return coio__err_from_win32(e);
    }
    if (!UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, list,
                                   (SIZE_T)n * sizeof list[0], NULL, NULL)) {
      e = GetLastError();
      DeleteProcThreadAttributeList(attrs);
      free(attrs);
      return coio__err_from_win32(e);
    }
    si.lpAttributeList = attrs;
  }
  if (str->env)
    flags |= CREATE_UNICODE_ENVIRONMENT;
  if (o->flags & COIO_PROCESS_NEW_GROUP)
    flags |= CREATE_NEW_PROCESS_GROUP;
  if (o->flags & COIO_PROCESS_NO_WINDOW)
    flags |= CREATE_NO_WINDOW;
  if (o->flags & COIO_PROCESS_KILL_TREE)
    flags |= CREATE_SUSPENDED;
  ok = CreateProcessW(str->app, str->cmdline, NULL, NULL, n > 0, flags, str->env, str->cwd,
                      &si.StartupInfo, pi);
  if (!ok)
    e = GetLastError();
  if (attrs) {
    DeleteProcThreadAttributeList(attrs);
    free(attrs);
  }
  if (!ok) {
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_DIRECTORY: /* the working directory */
      rc = COIO_ENOENT;
      break;
    default:
      rc = coio__err_from_win32(e); /* ERROR_BAD_EXE_FORMAT: COIO_ENOEXEC, ... */
      break;
    }
  }
  return rc;
}

int coio__proc_spawn(coio_loop_t *loop, const coio__spawn_args_t *args,
                     coio__proc_exited_cb exited, void *arg, coio__proc_t **proc,
                     coio_pid_t *pid, coio_pipe_t parent[3]) {
  spawn_strings_t str;
  stdio_set_t io;
  PROCESS_INFORMATION pi;
  coio__proc_t *p = NULL;
  HANDLE job = NULL;
  int rc, i;
  if (!loop || !args || !exited || !proc || !pid || !parent ||
      (!args->argv) == (!args->shell_cmd) || (args->argv && !args->argv[0]))
    return COIO_EINVAL;
  for (i = 0; i < 3; i++)
    parent[i] = COIO_INVALID_PIPE;
  if (args->opts.flags & ~(unsigned)KNOWN_FLAGS)
    return COIO_EINVAL;
  if (args->opts.flags & COIO_PROCESS_NEW_SESSION)
    return COIO_ENOTSUP;
  if (!(p = calloc(1, sizeof *p)))
    return COIO_ENOMEM;
  if ((rc = build_strings(args, &str)) != 0) {
    strings_free(&str);
    free(p);
    return rc;
  }
  if ((rc = stdio_make(&io, &args->opts)) != 0) {
    strings_free(&str);
    free(p);
    return rc;
  }
  rc = create_process(args, &str, &io, &pi);
  strings_free(&str);
  stdio_close(&io, rc != 0); /* the child's copies go now; ours only on failure */
  if (rc) {
    free(p);
    return rc;
  }
  if (args->opts.flags & COIO_PROCESS_KILL_TREE) {
    rc = make_job(pi.hProcess, &job);
    if (rc == 0 && ResumeThread(pi.hThread) == (DWORD)-1)
      rc = coio__err_from_win32(GetLastError());
  }
  CloseHandle(pi.hThread);
  p->loop = loop;
  p->process = pi.hProcess;
  p->job = job;
  p->pid = pi.dwProcessId;
  p->flags = args->opts.flags;
  p->exited = exited;
  p->arg = arg;
  if (rc == 0) {
    list_add(p);
    if (!RegisterWaitForSingleObject(&p->wait, p->process, on_signaled, p, INFINITE,
                                     WT_EXECUTEONLYONCE | WT_EXECUTEINWAITTHREAD)) {
      rc = coio__err_from_win32(GetLastError());
      p->wait = NULL;
    }
  }
  if (rc) {
    /* Nothing left behind: the child (suspended, or just started) goes too. */
    if (job)
      TerminateJobObject(job, 1);
    TerminateProcess(pi.hProcess, 1);
    WaitForSingleObject(pi.hProcess, 5000);
    proc_free(p);
    for (i = 0; i < 3; i++)
      if (io.parent[i] != COIO_INVALID_PIPE)
        CloseHandle((HANDLE)io.parent[i]);
    return rc;
  }
  for (i = 0; i < 3; i++)
    parent[i] = io.parent[i];
  *proc = p;
  *pid = (coio_pid_t)p->pid;
  return 0;
}

/* ---- signals --------------------------------------------------------------------------------- */

static int has_exited(coio__proc_t *p) {
  return p->delivered || WaitForSingleObject(p->process, 0) == WAIT_OBJECT_0;
}

static int terminate(coio__proc_t *p) {
  DWORD e;
  if (TerminateProcess(p->process, 1))
    return 0;
  e = GetLastError();
  /* A process that is exiting or gone refuses with ERROR_ACCESS_DENIED.
   * (Wine returns TRUE for a dead process: has_exited caught that first.) */
  if (e == ERROR_ACCESS_DENIED && WaitForSingleObject(p->process, 100) == WAIT_OBJECT_0)
    return COIO_ESRCH;
  return coio__err_from_win32(e);
}

int coio__proc_send_signal(coio__proc_t *p, int sig) {
  DWORD ev;
  if (!p)
    return COIO_EINVAL;
  if (sig != SIGTERM && sig != SIGKILL && sig != SIGINT && sig != SIGBREAK)
    return COIO_EINVAL;
  if (has_exited(p))
    return COIO_ESRCH;
  if (sig == SIGTERM || sig == SIGKILL)
    return terminate(p);
  /* As asyncio (os.kill with CTRL_*_EVENT): the event goes to the group
   * whose id is the child's pid, which exists when the child was started
   * with COIO_PROCESS_NEW_GROUP and shares our console. Wine fails these
   * (PITFALLS 5). */
  ev = sig == SIGINT ? CTRL_C_EVENT : CTRL_BREAK_EVENT;
  if (!GenerateConsoleCtrlEvent(ev, p->pid))
    return coio__err_from_win32(GetLastError());
  return 0;
}

int coio__proc_kill_tree(coio__proc_t *p) {
  if (!p)
    return COIO_EINVAL;
  if (!(p->flags & COIO_PROCESS_KILL_TREE))
    return 0;
  if (p->job) {
    /* The descendants may outlive the child: the job is killed anyway. */
    if (!TerminateJobObject(p->job, 1))
      return coio__err_from_win32(GetLastError());
    return 0;
  }
  /* No job (nested jobs refused): the child alone. */
  return has_exited(p) ? COIO_ESRCH : terminate(p);
}

/* ---- release and loop close -------------------------------------------------------------------- */

void coio__proc_release(coio__proc_t *p) {
  if (!p || p->released)
    return;
  p->released = 1;
  /* Exit delivered, or no wait any more: nothing will come. Otherwise the
   * child still runs or its post is on the way: on_exit_posted (or the
   * loop's close) frees it. */
  if (p->delivered || p->detached)
    proc_free(p);
}

void coio__proc_loop_close(coio_loop_t *loop) {
  coio__proc_t *p, *next;
  /* The callbacks never take g_lock, so waiting for them under it is safe. */
  AcquireSRWLockExclusive(&g_lock);
  for (p = g_procs; p; p = next) {
    next = p->next;
    if (p->loop != loop)
      continue;
    list_unlink_locked(p);
    unwatch(p);
    p->detached = 1;
    if (p->released) {
      CloseHandle(p->process);
      if (p->job)
        CloseHandle(p->job);
      free(p);
    }
  }
  ReleaseSRWLockExclusive(&g_lock);
}
