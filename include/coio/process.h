/* coio/process.h - subprocesses (asyncio's loop.subprocess_exec /
 * subprocess_shell with a SubprocessProtocol, and asyncio.create_subprocess_exec
 * / create_subprocess_shell with a Process whose pipes are streams), the same
 * on IOCP, epoll and io_uring.
 *
 * Programs and arguments are UTF-8 on every platform (Windows: converted to
 * UTF-16 for CreateProcessW). A program that does not exist or cannot be
 * executed fails the spawning call itself (COIO_ENOENT, COIO_EACCES,
 * COIO_ENOEXEC), never as an exit status 127.
 *
 * Return codes follow asyncio: the exit status (0..255 on POSIX, the 32-bit
 * exit code on Windows), or minus the signal number when a POSIX child was
 * killed by a signal. A child is watched by its own pid (a pidfd on Linux,
 * its process handle on Windows): coio never calls waitpid(-1), so it never
 * reaps another library's children.
 *
 * What a child gets: its three standard streams as the options say, and
 * no other descriptor or handle of the parent (POSIX: every descriptor
 * above 2 is closed in the child, also ones the application left
 * inheritable; Windows: only the three are inherited). POSIX: an empty
 * signal mask and every signal at its default disposition (coio's pipe
 * transports make the parent ignore SIGPIPE; the child does not). A
 * program without a directory separator is searched in PATH: the child's
 * PATH when the options give an environment with one, else the parent's.
 *
 * Shell mode runs `/bin/sh -c <cmd>` (POSIX) or `cmd.exe /d /s /c "<cmd>"`
 * (Windows). It is unsafe with untrusted input: the shell expands whatever
 * the string contains (cmd.exe expands %VAR% even inside quotes). Prefer the
 * exec calls, which pass each argument through unchanged.
 *
 * Signals are the platform's numbers from <signal.h> (see coio/signal.h).
 * POSIX: any signal, sent to the child (kill). Windows: SIGTERM and SIGKILL
 * (or terminate/kill) end the child with TerminateProcess (exit code 1);
 * SIGINT and SIGBREAK send CTRL_C_EVENT / CTRL_BREAK_EVENT to a child started
 * with COIO_PROCESS_NEW_GROUP that shares the parent's console. Signalling a
 * child that has already exited gives COIO_ESRCH. */
#ifndef COIO_PROCESS_H
#define COIO_PROCESS_H

#include <signal.h>

#include "stream.h"

/* Windows' <signal.h> has no SIGKILL: coio gives it the POSIX number, for
 * coio_subprocess_send_signal (it ends the child, as SIGTERM does). */
#if defined(_WIN32) && !defined(SIGKILL)
#define SIGKILL 9
#endif

COIO_BEGIN_DECLS

#ifdef _WIN32
typedef uint32_t coio_pid_t; /* the process id (a DWORD) */
#else
typedef int coio_pid_t; /* pid_t */
#endif

/* What one of the child's standard streams is connected to. */
enum coio_stdio_kind {
  COIO_STDIO_DEFAULT = 0, /* the call's default: PIPE for subprocess_exec/_shell
                             (as asyncio's loop methods), INHERIT for
                             create_subprocess_exec/_shell (as asyncio's) */
  COIO_STDIO_INHERIT,     /* the parent's own stdin/stdout/stderr */
  COIO_STDIO_PIPE,        /* a pipe to the parent, served by the loop */
  COIO_STDIO_DEVNULL,     /* /dev/null or NUL */
  COIO_STDIO_FD,          /* the fd or handle in .fd (the caller's; it stays open
                             in the parent and is duplicated into the child) */
  COIO_STDIO_STDOUT       /* stderr only: the same as the child's stdout
                             (asyncio's subprocess.STDOUT) */
};

typedef struct coio_stdio {
  int kind;        /* enum coio_stdio_kind */
  coio_pipe_t fd;  /* COIO_STDIO_FD: a POSIX fd or a Windows HANDLE */
} coio_stdio_t;

/* Option flags (coio_process_options_t.flags). */
enum {
  COIO_PROCESS_NEW_GROUP = 1,    /* POSIX: setpgid(0, 0); Windows: CREATE_NEW_PROCESS_GROUP */
  COIO_PROCESS_NEW_SESSION = 2,  /* POSIX: setsid(); COIO_ENOTSUP on Windows */
  COIO_PROCESS_NO_WINDOW = 4,    /* Windows: CREATE_NO_WINDOW; ignored on POSIX */
  COIO_PROCESS_KILL_TREE = 8,    /* closing or freeing the process kills the child and
                                    its descendants: a job object (Windows), the
                                    child's own process group (POSIX; implies
                                    NEW_GROUP unless NEW_SESSION is given) */
  COIO_PROCESS_VERBATIM_ARGS = 16 /* Windows: join argv with spaces, no quoting;
                                     ignored on POSIX */
};

/* A NULL pointer or a zeroed struct gives the defaults. */
typedef struct coio_process_options {
  coio_stdio_t stdio[3]; /* stdin, stdout, stderr */
  const char *cwd;       /* working directory; NULL: the parent's */
  /* "NAME=value" strings, NULL-terminated. NULL: the parent's environment.
   * With env_extend, these are added to (or replace the same names in) the
   * parent's environment; without, they are the whole environment. */
  const char *const *env;
  int env_extend;
  unsigned flags;           /* COIO_PROCESS_* */
  uint32_t creation_flags;  /* Windows: more CreateProcess flags; 0 on POSIX */
  size_t limit;             /* Process API: the stream readers' limit; 0: 64 KiB */
} coio_process_options_t;

/* ---- protocol level: subprocess_exec / subprocess_shell ------------------------- */

typedef struct coio_subprocess coio_subprocess_t; /* asyncio's SubprocessTransport */

/* asyncio's SubprocessProtocol; any callback may be NULL. fd is 0, 1 or 2.
 * Order: connection_made (after every pipe is connected); pipe_data_received
 * and pipe_connection_lost per pipe; process_exited once the child exited
 * (its pipes may still deliver data afterwards: a grandchild can hold them);
 * connection_lost once the child exited and every pipe is closed. The
 * stdin pipe is closed (once flushed) when the child exits; the stdout and
 * stderr pipes stay open until their EOF. */
typedef struct coio_subprocess_protocol {
  void (*connection_made)(coio_subprocess_t *p, void *user_data);
  void (*pipe_data_received)(coio_subprocess_t *p, int fd, const void *data, size_t len,
                             void *user_data);
  void (*pipe_connection_lost)(coio_subprocess_t *p, int fd, int error, void *user_data);
  void (*process_exited)(coio_subprocess_t *p, void *user_data);
  void (*connection_lost)(coio_subprocess_t *p, int error, void *user_data);
} coio_subprocess_protocol_t;

/* Starts argv[0] (searched in PATH when it has no directory separator) with
 * argv (NULL-terminated, at least the program). The future's value is the
 * coio_subprocess_t *, owned by the caller from then on (coio_subprocess_free).
 * Spawn errors (COIO_ENOENT, COIO_EACCES, COIO_ENOEXEC, bad options:
 * COIO_EINVAL, COIO_EBADF) are returned by the call itself. */
COIO_API int coio_subprocess_exec(coio_loop_t *loop, const coio_subprocess_protocol_t *proto,
                                  void *user_data, const char *const *argv,
                                  const coio_process_options_t *opts, coio_future_t **out);
/* The same through the shell (see the top of this file). Windows: a cmd
 * containing CR or LF gives COIO_EINVAL. */
COIO_API int coio_subprocess_shell(coio_loop_t *loop, const coio_subprocess_protocol_t *proto,
                                   void *user_data, const char *cmd,
                                   const coio_process_options_t *opts, coio_future_t **out);

COIO_API coio_pid_t coio_subprocess_pid(const coio_subprocess_t *p);
/* 0 and *code once the child has exited; COIO_EAGAIN while it runs. */
COIO_API int coio_subprocess_returncode(const coio_subprocess_t *p, int *code);
/* The pipe transport of fd 0, 1 or 2, or NULL (not a pipe, or closed). Do
 * not replace its protocol. */
COIO_API coio_transport_t *coio_subprocess_pipe(const coio_subprocess_t *p, int fd);
COIO_API int coio_subprocess_send_signal(coio_subprocess_t *p, int sig);
COIO_API int coio_subprocess_terminate(coio_subprocess_t *p); /* SIGTERM / TerminateProcess */
COIO_API int coio_subprocess_kill(coio_subprocess_t *p);      /* SIGKILL / TerminateProcess */
/* asyncio's close: closes the pipes and kills the child if it still runs
 * (its tree with COIO_PROCESS_KILL_TREE). The protocol still hears
 * process_exited and connection_lost. Idempotent. */
COIO_API int coio_subprocess_close(coio_subprocess_t *p);
COIO_API int coio_subprocess_is_closing(const coio_subprocess_t *p);
/* Releases the caller's hold: closes first if not closed; the memory goes
 * once the protocol heard connection_lost. NULL: no-op. */
COIO_API void coio_subprocess_free(coio_subprocess_t *p);

/* ---- task level: create_subprocess_exec / create_subprocess_shell -------------- */

typedef struct coio_process coio_process_t; /* asyncio.subprocess.Process */

/* (task) Starts the child (as coio_subprocess_exec) and sets *out. Its piped
 * stdin is a stream writer, its piped stdout/stderr stream readers. */
COIO_API int coio_create_subprocess_exec(const char *const *argv,
                                         const coio_process_options_t *opts,
                                         coio_process_t **out);
COIO_API int coio_create_subprocess_shell(const char *cmd, const coio_process_options_t *opts,
                                          coio_process_t **out);

COIO_API coio_pid_t coio_process_pid(const coio_process_t *p);
/* The streams of the piped standard streams, else NULL. They belong to the
 * process object (never free them). */
COIO_API coio_stream_writer_t *coio_process_stdin(const coio_process_t *p);
COIO_API coio_stream_reader_t *coio_process_stdout(const coio_process_t *p);
COIO_API coio_stream_reader_t *coio_process_stderr(const coio_process_t *p);
/* 0 and *code once exited; COIO_EAGAIN while running. */
COIO_API int coio_process_returncode(const coio_process_t *p, int *code);
/* (task) Waits for the child to exit (not for its pipes: a grandchild may
 * hold them); 0 and *code (may be NULL). COIO_ECANCELED leaves the child
 * running and the object usable. */
COIO_API int coio_process_wait(coio_process_t *p, int *code);
/* (task) asyncio's communicate(input): writes input (may be NULL/0) to
 * stdin and closes it, reads stdout and stderr to EOF, all at once (never
 * deadlocks on full pipes), then waits for exit. The outputs are malloc'd
 * (free with coio_stream_data_free; NUL-terminated, not counted) where
 * out/err are not NULL and that stream is piped, else NULL/0. A child that
 * stopped reading its stdin early is not an error (as asyncio ignores
 * BrokenPipeError). COIO_ECANCELED: the child keeps running, what was
 * read so far stays in the readers. */
COIO_API int coio_process_communicate(coio_process_t *p, const void *input, size_t input_len,
                                      void **out, size_t *out_len, void **err, size_t *err_len,
                                      int *code);
COIO_API int coio_process_send_signal(coio_process_t *p, int sig);
COIO_API int coio_process_terminate(coio_process_t *p);
COIO_API int coio_process_kill(coio_process_t *p);
/* Closes the streams, kills a child still running (as coio_subprocess_close)
 * and frees the object. NULL: no-op. */
COIO_API void coio_process_free(coio_process_t *p);

COIO_END_DECLS

#endif /* COIO_PROCESS_H */
