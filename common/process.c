/* common/process.c - subprocesses, the part written once for every OS and
 * backend (process_internal.h is the seam to process_posix.c and
 * process_win.c, which spawn and watch for the exit):
 *
 *  - the protocol level (asyncio's SubprocessTransport): the pipes are pipe
 *    transports (coio_connect_read_pipe / coio_connect_write_pipe) whose
 *    internal protocol forwards to the subprocess protocol with the fd
 *    number (pipe_data_received(fd, ...), pipe_connection_lost(fd, ...));
 *  - the task level (asyncio.subprocess.Process): the pipes are streams
 *    (coio__stream_make): the stdin writer and the stdout / stderr readers
 *    sit directly on their pipe transports; wait() and communicate().
 *    communicate runs one task per direction (stdin's writer, each
 *    reader's read_all), so a child blocked on a full stdout while we still
 *    write its stdin cannot deadlock; cancelled, it cancels and awaits
 *    them, and what a finished reader had taken goes back into its reader.
 *
 * No OS code here: signals are <signal.h> numbers (process.h gives Windows
 * a SIGKILL), everything else goes through process_internal.h.
 *
 * Order of the protocol's callbacks (as asyncio's BaseSubprocessTransport):
 * connection_made runs once every pipe is connected. Until then the read
 * pipes are paused (so no data can come first) and an exit is held back;
 * process_exited once the child exited (the stdin pipe is closed then;
 * stdout and stderr stay open until their EOF, which a grandchild may
 * delay); connection_lost once it exited and every pipe is gone. A subprocess is freed when the caller released
 * it, no connect is pending, no pipe transport can still call it and, at
 * the protocol level, the protocol heard connection_lost. The task level
 * does not wait for the exit: the OS part goes on reaping the child after
 * coio__proc_release.
 *
 * Reentrancy: a protocol callback may close or free the subprocess;
 * `busy` keeps the memory until the callback returned. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "process_internal.h"
#include "stream_internal.h"

enum { PIPE_NONE = 0, PIPE_FORWARD, PIPE_STREAM };

typedef struct sp_pipe {
  struct coio_subprocess *sp;
  int fd;                 /* 0, 1, 2 */
  int kind;               /* PIPE_* */
  coio_transport_t *t;    /* PIPE_FORWARD: from connection_made to connection_lost */
  int live;               /* PIPE_FORWARD: a transport exists or is being made */
  int lost, lost_error;   /* PIPE_FORWARD: its connection_lost ran */
  int lost_told;          /* ... and the protocol heard it */
  coio_future_t *connect; /* the connect call's future, until done */
} sp_pipe_t;

struct coio_subprocess {
  coio_loop_t *loop;
  const coio_subprocess_protocol_t *proto;
  void *ud;
  coio__proc_t *os; /* until freed */
  coio_pid_t pid;
  unsigned flags; /* COIO_PROCESS_* */
  int exited, returncode;
  int made;      /* connection_made ran (or, for the task level, not needed) */
  int exit_due;  /* exited before connection_made */
  int closed;    /* close() called */
  int released;  /* the caller let go */
  int lost;      /* connection_lost ran */
  int silent;    /* the protocol hears nothing more (a cancelled or failed start) */
  int detached;  /* the task level: freed without waiting for the exit */
  int connecting; /* pipe connects (and the first call_soon) not yet done */
  int failed;     /* a pipe connect failed: the error */
  int busy;       /* inside a protocol callback */
  coio_future_t *waiter; /* subprocess_exec's future, until resolved */
  sp_pipe_t pipes[3];
};

/* ---- lifetime ----------------------------------------------------------------------- */

static int live_pipes(const coio_subprocess_t *sp) {
  int i, n = 0;
  for (i = 0; i < 3; i++)
    n += sp->pipes[i].kind == PIPE_FORWARD && sp->pipes[i].live;
  return n;
}

static void maybe_free(coio_subprocess_t *sp) {
  if (!sp->released || sp->busy || sp->connecting || live_pipes(sp))
    return;
  if (!sp->detached && !sp->silent && !sp->lost)
    return; /* the protocol must hear connection_lost first */
  if (sp->os)
    coio__proc_release(sp->os); /* reaped later by the OS part if still running */
  if (sp->waiter)
    coio_future_unref(sp->waiter);
  free(sp);
}

/* connection_lost once made, exited and every pipe gone. */
static void check_lost(coio_subprocess_t *sp) {
  if (!sp->made || !sp->exited || sp->lost || live_pipes(sp))
    return;
  sp->lost = 1;
  if (!sp->silent && sp->proto->connection_lost) {
    sp->busy++;
    sp->proto->connection_lost(sp, 0, sp->ud);
    sp->busy--;
  }
}

static void tell_exit(coio_subprocess_t *sp) {
  if (!sp->silent && sp->proto->process_exited) {
    sp->busy++;
    sp->proto->process_exited(sp, sp->ud);
    sp->busy--;
  }
}

static void on_exited(void *arg, int returncode) {
  coio_subprocess_t *sp = arg;
  sp->exited = 1;
  sp->returncode = returncode;
  /* Nobody reads the stdin pipe of a dead child: closed once flushed (a
   * grandchild may still hold it, but the read pipes stay open for it). */
  if (sp->pipes[0].t && !coio_transport_is_closing(sp->pipes[0].t))
    coio_transport_close(sp->pipes[0].t);
  if (sp->made)
    tell_exit(sp);
  else
    sp->exit_due = 1;
  check_lost(sp);
  maybe_free(sp);
}

/* ---- the pipes' internal protocol (protocol level) ------------------------------------ */

static void fwd_made(coio_transport_t *t, void *ud) {
  sp_pipe_t *pp = ud;
  coio_subprocess_t *sp = pp->sp;
  pp->t = t;
  if (sp->silent || sp->failed) {
    coio_transport_abort(t);
    return;
  }
  if (sp->closed) {
    coio_transport_close(t);
    return;
  }
  if (pp->fd != 0 && !sp->made)
    coio_transport_pause_reading(t); /* nothing before connection_made */
}

static void fwd_data(coio_transport_t *t, const void *data, size_t len, void *ud) {
  sp_pipe_t *pp = ud;
  coio_subprocess_t *sp = pp->sp;
  (void)t;
  if (!sp->silent && sp->proto->pipe_data_received) {
    sp->busy++;
    sp->proto->pipe_data_received(sp, pp->fd, data, len, sp->ud);
    sp->busy--;
    maybe_free(sp);
  }
}

static void tell_pipe_lost(sp_pipe_t *pp) {
  coio_subprocess_t *sp = pp->sp;
  pp->lost_told = 1;
  if (!sp->silent && sp->proto->pipe_connection_lost) {
    sp->busy++;
    sp->proto->pipe_connection_lost(sp, pp->fd, pp->lost_error, sp->ud);
    sp->busy--;
  }
}

static void fwd_lost(coio_transport_t *t, int error, void *ud) {
  sp_pipe_t *pp = ud;
  coio_subprocess_t *sp = pp->sp;
  (void)t;
  pp->t = NULL;
  pp->live = 0;
  pp->lost = 1;
  pp->lost_error = error;
  if (sp->made)
    tell_pipe_lost(pp);
  check_lost(sp);
  maybe_free(sp);
}

static const coio_protocol_t fwd_protocol = {fwd_made, fwd_data, NULL, fwd_lost, NULL, NULL, NULL, NULL};

/* Kills the child (its tree with KILL_TREE) unless it exited; the tree is
 * killed even then, a grandchild may still hold the group. */
static void kill_child(coio_subprocess_t *sp) {
  if (!sp->os)
    return;
  if (sp->flags & COIO_PROCESS_KILL_TREE)
    coio__proc_kill_tree(sp->os);
  if (!sp->exited)
    coio__proc_send_signal(sp->os, SIGKILL);
}

static void close_pipes(coio_subprocess_t *sp) {
  int i;
  for (i = 0; i < 3; i++)
    if (sp->pipes[i].t && !coio_transport_is_closing(sp->pipes[i].t))
      coio_transport_close(sp->pipes[i].t);
}

/* Every pipe connected (or none to connect): connection_made, then what was
 * held back, then the caller's future. */
static void all_connected(coio_subprocess_t *sp) {
  int i, err = sp->failed;
  if (!err && sp->silent)
    err = COIO_ECANCELED; /* start() failed after this pipe's connect began */
  if (!err && sp->waiter && coio_future_done(sp->waiter))
    err = COIO_ECANCELED; /* the caller gave up on the start */
  if (err) {
    sp->silent = 1;
    sp->released = 1; /* the caller never got it */
    for (i = 0; i < 3; i++)
      if (sp->pipes[i].t)
        coio_transport_abort(sp->pipes[i].t);
    kill_child(sp);
    if (sp->waiter && !coio_future_done(sp->waiter)) {
      if (err == COIO_ECANCELED)
        coio_future_cancel(sp->waiter, NULL);
      else
        coio_future_set_error(sp->waiter, err, NULL);
    }
    return;
  }
  sp->made = 1;
  if (sp->proto->connection_made) {
    sp->busy++;
    sp->proto->connection_made(sp, sp->ud);
    sp->busy--;
  }
  for (i = 1; i < 3; i++)
    if (sp->pipes[i].t && !sp->closed)
      coio_transport_resume_reading(sp->pipes[i].t);
  for (i = 0; i < 3; i++)
    if (sp->pipes[i].lost && !sp->pipes[i].lost_told)
      tell_pipe_lost(&sp->pipes[i]);
  if (sp->exit_due) {
    sp->exit_due = 0;
    tell_exit(sp);
  }
  if (sp->waiter && !coio_future_done(sp->waiter))
    coio_future_set_result(sp->waiter, sp, NULL);
  check_lost(sp);
}

static void connect_done(coio_future_t *f, void *arg) {
  sp_pipe_t *pp = arg;
  coio_subprocess_t *sp = pp->sp;
  int rc = coio_future_result(f, NULL);
  if (rc != 0) {
    pp->live = 0; /* no transport was made */
    if (!sp->failed)
      sp->failed = rc;
  }
  coio_future_unref(f);
  pp->connect = NULL;
  if (--sp->connecting == 0)
    all_connected(sp);
  maybe_free(sp);
}

static void start_done(coio_loop_t *loop, void *arg) {
  coio_subprocess_t *sp = arg;
  (void)loop;
  if (--sp->connecting == 0)
    all_connected(sp);
  maybe_free(sp);
}

/* ---- starting ---------------------------------------------------------------------------- */

static int check_options(const coio_process_options_t *in, coio_process_options_t *o,
                         int default_kind) {
  int i;
  if (in)
    *o = *in;
  else
    memset(o, 0, sizeof *o);
  for (i = 0; i < 3; i++) {
    int k = o->stdio[i].kind;
    if (k < COIO_STDIO_DEFAULT || k > COIO_STDIO_STDOUT || (k == COIO_STDIO_STDOUT && i != 2))
      return COIO_EINVAL;
    if (k == COIO_STDIO_DEFAULT)
      o->stdio[i].kind = default_kind;
    if (o->stdio[i].kind == COIO_STDIO_FD && o->stdio[i].fd == COIO_INVALID_PIPE)
      return COIO_EBADF;
  }
  return 0; /* env_extend with a NULL env: the parent's, nothing added */
}

/* Spawns and starts connecting the pipes. streams == NULL: the protocol
 * level (forwarding pipes); else the task level: streams[i] receives the
 * stream of each piped fd and conn[i] its connect future (a reference). */
static int start(coio_loop_t *loop, const coio_subprocess_protocol_t *proto, void *ud,
                 const char *const *argv, const char *cmd, const coio_process_options_t *opts,
                 coio_stream_writer_t **streams, coio_future_t **conn, coio_subprocess_t **out) {
  coio__spawn_args_t a;
  coio_pipe_t parent[3];
  coio_subprocess_t *sp;
  int i, rc;
  *out = NULL;
  if (!loop || !proto)
    return COIO_EINVAL;
  if (cmd == NULL && (!argv || !argv[0]))
    return COIO_EINVAL;
  memset(&a, 0, sizeof a);
  a.argv = cmd ? NULL : argv;
  a.shell_cmd = cmd;
  if ((rc = check_options(opts, &a.opts, streams ? COIO_STDIO_INHERIT : COIO_STDIO_PIPE)) != 0)
    return rc;
  if (!(sp = calloc(1, sizeof *sp)))
    return COIO_ENOMEM;
  sp->loop = loop;
  sp->proto = proto;
  sp->ud = ud;
  sp->flags = a.opts.flags;
  for (i = 0; i < 3; i++) {
    sp->pipes[i].sp = sp;
    sp->pipes[i].fd = i;
  }
  if ((rc = coio__proc_spawn(loop, &a, on_exited, sp, &sp->os, &sp->pid, parent)) != 0) {
    free(sp);
    return rc;
  }
  /* From here the child runs: on a failure it is killed and the OS part
   * reaps it. */
  for (i = 0; i < 3; i++) {
    sp_pipe_t *pp = &sp->pipes[i];
    const coio_protocol_t *pr = &fwd_protocol;
    void *pud = pp;
    coio_future_t *f = NULL;
    if (parent[i] == COIO_INVALID_PIPE)
      continue;
    if (rc == 0 && streams) {
      rc = coio__stream_make(loop, a.opts.limit, &pr, &pud, &streams[i]);
      pp->kind = PIPE_STREAM;
    } else {
      pp->kind = PIPE_FORWARD;
    }
    if (rc == 0)
      rc = i == 0 ? coio_connect_write_pipe(loop, pr, pud, parent[i], &f)
                  : coio_connect_read_pipe(loop, pr, pud, parent[i], &f);
    if (rc != 0) {
      coio_pipe_close(parent[i]); /* not taken by a transport */
      continue;
    }
    if (streams) {
      coio__stream_connecting(streams[i], f);
      conn[i] = f;
    } else {
      pp->live = 1;
      pp->connect = f;
      sp->connecting++;
      if (coio_future_add_done_callback(f, connect_done, pp) != 0) {
        /* out of memory: the start fails; the transport, made anyway,
         * finds the subprocess silent and aborts itself (fwd_made) */
        sp->connecting--;
        coio_future_unref(f);
        pp->connect = NULL;
        rc = COIO_ENOMEM;
      }
    }
  }
  if (rc == 0 && !streams) {
    sp->connecting++;
    if ((rc = coio_call_soon(loop, start_done, sp, NULL)) != 0)
      sp->connecting--;
  }
  if (rc != 0) {
    /* The caller gets the error; what was started is torn down silently. */
    sp->silent = 1;
    sp->released = 1;
    sp->detached = 1;
    if (!sp->connecting)
      sp->made = 1;
    kill_child(sp);
    if (streams)
      for (i = 0; i < 3; i++) {
        coio_stream_writer_free(streams[i]);
        streams[i] = NULL;
        coio_future_unref(conn[i]);
        conn[i] = NULL;
      }
    maybe_free(sp);
    return rc;
  }
  *out = sp;
  return 0;
}

static int exec_common(coio_loop_t *loop, const coio_subprocess_protocol_t *proto,
                       void *user_data, const char *const *argv, const char *cmd,
                       const coio_process_options_t *opts, coio_future_t **out) {
  coio_subprocess_t *sp;
  coio_future_t *f;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!loop)
    return COIO_EINVAL;
  if ((rc = coio_future_new(loop, &f)) != 0)
    return rc;
  if ((rc = start(loop, proto, user_data, argv, cmd, opts, NULL, NULL, &sp)) != 0) {
    coio_future_unref(f);
    return rc;
  }
  sp->waiter = coio_future_ref(f);
  *out = f;
  return 0;
}

int coio_subprocess_exec(coio_loop_t *loop, const coio_subprocess_protocol_t *proto,
                         void *user_data, const char *const *argv,
                         const coio_process_options_t *opts, coio_future_t **out) {
  if (!argv || !argv[0]) {
    if (out)
      *out = NULL;
    return COIO_EINVAL;
  }
  return exec_common(loop, proto, user_data, argv, NULL, opts, out);
}

int coio_subprocess_shell(coio_loop_t *loop, const coio_subprocess_protocol_t *proto,
                          void *user_data, const char *cmd, const coio_process_options_t *opts,
                          coio_future_t **out) {
  if (!cmd) {
    if (out)
      *out = NULL;
    return COIO_EINVAL;
  }
  return exec_common(loop, proto, user_data, NULL, cmd, opts, out);
}

/* ---- the subprocess transport ---------------------------------------------------------- */

coio_pid_t coio_subprocess_pid(const coio_subprocess_t *p) { return p ? p->pid : 0; }

int coio_subprocess_returncode(const coio_subprocess_t *p, int *code) {
  if (!p)
    return COIO_EINVAL;
  if (!p->exited)
    return COIO_EAGAIN;
  if (code)
    *code = p->returncode;
  return 0;
}

coio_transport_t *coio_subprocess_pipe(const coio_subprocess_t *p, int fd) {
  if (!p || fd < 0 || fd > 2 || p->pipes[fd].kind != PIPE_FORWARD)
    return NULL;
  return p->pipes[fd].t;
}

int coio_subprocess_send_signal(coio_subprocess_t *p, int sig) {
  if (!p)
    return COIO_EINVAL;
  if (p->exited)
    return COIO_ESRCH; /* reaped: the pid may be somebody else's now */
  return coio__proc_send_signal(p->os, sig);
}

int coio_subprocess_terminate(coio_subprocess_t *p) { return coio_subprocess_send_signal(p, SIGTERM); }

int coio_subprocess_kill(coio_subprocess_t *p) { return coio_subprocess_send_signal(p, SIGKILL); }

int coio_subprocess_close(coio_subprocess_t *p) {
  if (!p)
    return COIO_EINVAL;
  if (p->closed)
    return 0;
  p->closed = 1;
  close_pipes(p);
  kill_child(p);
  return 0;
}

int coio_subprocess_is_closing(const coio_subprocess_t *p) { return p && p->closed; }

void coio_subprocess_free(coio_subprocess_t *p) {
  if (!p)
    return;
  coio_subprocess_close(p);
  p->released = 1;
  maybe_free(p);
}

/* ---- the task level: asyncio.subprocess.Process ------------------------------------------ */

typedef struct waitnode {
  coio_future_t *f;
  struct waitnode *prev, *next;
} waitnode_t;

struct coio_process {
  coio_subprocess_t *sp;
  coio_stream_writer_t *w[3]; /* the piped fds' streams */
  waitnode_t *waiters;        /* tasks in coio_process_wait */
};

static void process_exited(coio_subprocess_t *sp, void *ud) {
  coio_process_t *p = ud;
  waitnode_t *n;
  (void)sp;
  for (n = p->waiters; n; n = n->next)
    if (!coio_future_done(n->f))
      coio_future_set_result(n->f, NULL, NULL);
}

static const coio_subprocess_protocol_t process_protocol = {NULL, NULL, NULL, process_exited, NULL};

static int create_common(const char *const *argv, const char *cmd,
                         const coio_process_options_t *opts, coio_process_t **out) {
  coio_task_t *task = coio_task_current();
  coio_future_t *conn[3] = {NULL, NULL, NULL};
  coio_process_t *p;
  coio_loop_t *loop;
  int i, rc = 0;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (!task)
    return COIO_ENOTASK;
  loop = coio_future_loop(task);
  if (!(p = calloc(1, sizeof *p)))
    return COIO_ENOMEM;
  if ((rc = start(loop, &process_protocol, p, argv, cmd, opts, p->w, conn, &p->sp)) != 0) {
    free(p);
    return rc;
  }
  p->sp->made = 1; /* the task level has no connection_made */
  p->sp->detached = 1;
  for (i = 0; i < 3; i++) {
    if (conn[i] && rc == 0)
      rc = coio_await(conn[i]);
    coio_future_unref(conn[i]);
  }
  if (rc != 0) { /* cancelled or a pipe failed: the child is killed */
    coio_process_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int coio_create_subprocess_exec(const char *const *argv, const coio_process_options_t *opts,
                                coio_process_t **out) {
  if (!argv || !argv[0]) {
    if (out)
      *out = NULL;
    return COIO_EINVAL;
  }
  return create_common(argv, NULL, opts, out);
}

int coio_create_subprocess_shell(const char *cmd, const coio_process_options_t *opts,
                                 coio_process_t **out) {
  if (!cmd) {
    if (out)
      *out = NULL;
    return COIO_EINVAL;
  }
  return create_common(NULL, cmd, opts, out);
}

coio_pid_t coio_process_pid(const coio_process_t *p) { return p ? p->sp->pid : 0; }

coio_stream_writer_t *coio_process_stdin(const coio_process_t *p) { return p ? p->w[0] : NULL; }

coio_stream_reader_t *coio_process_stdout(const coio_process_t *p) {
  return p && p->w[1] ? coio_stream_writer_reader(p->w[1]) : NULL;
}

coio_stream_reader_t *coio_process_stderr(const coio_process_t *p) {
  return p && p->w[2] ? coio_stream_writer_reader(p->w[2]) : NULL;
}

int coio_process_returncode(const coio_process_t *p, int *code) {
  return p ? coio_subprocess_returncode(p->sp, code) : COIO_EINVAL;
}

int coio_process_wait(coio_process_t *p, int *code) {
  waitnode_t n;
  int rc;
  if (!p)
    return COIO_EINVAL;
  if (!p->sp->exited) {
    if (!coio_task_current())
      return COIO_ENOTASK;
    if ((rc = coio_future_new(p->sp->loop, &n.f)) != 0)
      return rc;
    n.prev = NULL;
    n.next = p->waiters;
    if (p->waiters)
      p->waiters->prev = &n;
    p->waiters = &n;
    rc = coio_await(n.f);
    if (n.prev)
      n.prev->next = n.next;
    else
      p->waiters = n.next;
    if (n.next)
      n.next->prev = n.prev;
    coio_future_unref(n.f);
    if (rc != 0)
      return rc; /* cancelled: the child runs on, the object stays usable */
  }
  if (code)
    *code = p->sp->returncode;
  return 0;
}

/* communicate: one task per direction. */
typedef struct comm_dir {
  coio_process_t *p;
  int fd;
  const void *input;
  size_t input_len;
  void *data;
  size_t len;
  coio_task_t *task;
} comm_dir_t;

static int comm_write(void *arg, void **result) {
  comm_dir_t *d = arg;
  coio_stream_writer_t *w = d->p->w[0];
  int rc = 0;
  (void)result;
  if (d->input_len)
    rc = coio_stream_write(w, d->input, d->input_len);
  if (rc == 0 && d->input_len)
    rc = coio_stream_drain(w);
  if (rc == COIO_ECANCELED)
    return rc;
  /* asyncio ignores BrokenPipeError / ConnectionResetError: a child may
   * stop reading its stdin early */
  coio_stream_close(w);
  return 0;
}

static int comm_read(void *arg, void **result) {
  comm_dir_t *d = arg;
  (void)result;
  return coio_stream_read_all(coio_stream_writer_reader(d->p->w[d->fd]), &d->data, &d->len);
}

int coio_process_communicate(coio_process_t *p, const void *input, size_t input_len,
                             void **out, size_t *out_len, void **err, size_t *err_len,
                             int *code) {
  comm_dir_t d[3];
  coio_loop_t *loop;
  int i, rc = 0, st;
  if (out)
    *out = NULL;
  if (out_len)
    *out_len = 0;
  if (err)
    *err = NULL;
  if (err_len)
    *err_len = 0;
  if (!p || (input_len && !input))
    return COIO_EINVAL;
  if (!coio_task_current())
    return COIO_ENOTASK;
  loop = p->sp->loop;
  memset(d, 0, sizeof d);
  for (i = 0; i < 3 && rc == 0; i++) {
    d[i].p = p;
    d[i].fd = i;
    d[i].input = input;
    d[i].input_len = input_len;
    if (p->w[i])
      rc = coio_task_spawn(loop, i == 0 ? comm_write : comm_read, &d[i], NULL, &d[i].task);
  }
  for (i = 0; i < 3 && rc == 0; i++)
    if (d[i].task)
      rc = coio_await(d[i].task);
  if (rc == 0) {
    for (i = 0; i < 3 && rc == 0; i++)
      if (d[i].task && (st = coio_future_result(d[i].task, NULL)) != 0)
        rc = st;
  } else {
    /* cancelled (or a spawn failed): stop the others and wait for them, so
     * that nobody is left waiting in a reader */
    for (i = 0; i < 3; i++)
      if (d[i].task && !coio_future_done(d[i].task))
        coio_task_cancel(d[i].task, NULL);
    for (i = 0; i < 3; i++)
      while (d[i].task && !coio_future_done(d[i].task))
        coio_await(d[i].task);
  }
  if (rc == 0)
    rc = coio_process_wait(p, code);
  if (rc == 0) {
    if (out) {
      *out = d[1].data;
      d[1].data = NULL;
      if (out_len)
        *out_len = d[1].len;
    }
    if (err) {
      *err = d[2].data;
      d[2].data = NULL;
      if (err_len)
        *err_len = d[2].len;
    }
  }
  for (i = 1; i < 3; i++) {
    /* not returned (cancelled, or not asked for): what was read goes back
     * into its reader, as if never read */
    if (d[i].data && rc != 0)
      coio__stream_reader_feed(coio_stream_writer_reader(p->w[i]), d[i].data, d[i].len);
    coio_stream_data_free(d[i].data);
  }
  for (i = 0; i < 3; i++)
    coio_future_unref(d[i].task);
  return rc;
}

int coio_process_send_signal(coio_process_t *p, int sig) {
  return p ? coio_subprocess_send_signal(p->sp, sig) : COIO_EINVAL;
}

int coio_process_terminate(coio_process_t *p) { return coio_process_send_signal(p, SIGTERM); }

int coio_process_kill(coio_process_t *p) { return coio_process_send_signal(p, SIGKILL); }

void coio_process_free(coio_process_t *p) {
  int i;
  if (!p)
    return;
  for (i = 0; i < 3; i++)
    coio_stream_writer_free(p->w[i]); /* closes its transport */
  coio_subprocess_free(p->sp);
  free(p);
}
