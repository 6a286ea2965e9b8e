/* common/process_internal.h - the seam between the subprocess core
 * (process.c: the subprocess transport and protocol over pipe transports,
 * and the Process API over streams, written once) and the per-OS spawning
 * and exit watching (process_posix.c, process_win.c).
 *
 * The core validates what does not depend on the OS (argv non-empty, the
 * stdio kinds, STDOUT only for stderr) and resolves COIO_STDIO_DEFAULT
 * before calling coio__proc_spawn; the OS file validates the rest (fds and
 * handles, flags it does not support, CR/LF in a Windows shell line). */
#ifndef COIO_COMMON_PROCESS_INTERNAL_H
#define COIO_COMMON_PROCESS_INTERNAL_H

#include "coio/process.h"

typedef struct coio__proc coio__proc_t; /* the OS part: opaque to the core */

typedef struct coio__spawn_args {
  const char *const *argv; /* exec: the program and its arguments; NULL in shell mode */
  const char *shell_cmd;   /* shell mode: the command line; NULL for exec */
  /* The options, with every stdio[i].kind resolved (never DEFAULT). */
  coio_process_options_t opts;
} coio__spawn_args_t;

/* Called once, on the loop's thread from a loop callback (never from inside
 * coio__proc_spawn), when the child has exited and been reaped;
 * returncode as in coio/process.h. */
typedef void (*coio__proc_exited_cb)(void *arg, int returncode);

/* Spawns the child and starts watching for its exit. On success: *proc,
 * *pid, and parent[i] for each COIO_STDIO_PIPE stream: the parent's end,
 * ready for coio_connect_read_pipe (stdout, stderr) or
 * coio_connect_write_pipe (stdin): close-on-exec / non-inheritable,
 * non-blocking / overlapped. Other entries are COIO_INVALID_PIPE. On
 * failure nothing is left behind (no child, no fd, no handle): COIO_ENOENT,
 * COIO_EACCES, COIO_ENOEXEC for a program that cannot run; COIO_EINVAL,
 * COIO_EBADF, COIO_ENOTSUP for bad options. */
int coio__proc_spawn(coio_loop_t *loop, const coio__spawn_args_t *args,
                     coio__proc_exited_cb exited, void *arg, coio__proc_t **proc,
                     coio_pid_t *pid, coio_pipe_t parent[3]);

/* Sends sig (see coio/process.h); COIO_ESRCH once the child has exited. */
int coio__proc_send_signal(coio__proc_t *p, int sig);

/* Kills the child's whole tree (COIO_PROCESS_KILL_TREE): the job object, or
 * the process group; a no-op without that flag. */
int coio__proc_kill_tree(coio__proc_t *p);

/* The core is done with p: exited is never called after this returns. A
 * child that has not exited yet is not killed here (the core kills first
 * when it should); the OS part keeps watching it so that it is reaped once
 * it exits (no zombie), and frees itself then or when the loop closes. */
void coio__proc_release(coio__proc_t *p);

/* For coio_loop_close (before the tasks are closed): stops watching the
 * loop's children (unregisters waits, closes pidfds) and frees what
 * coio__proc_release left watching. A child still running is neither
 * killed nor waited for. */
void coio__proc_loop_close(coio_loop_t *loop);

#endif
