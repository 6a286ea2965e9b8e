/* common/executor.c - the thread pool (asyncio's ThreadPoolExecutor and
 * loop.run_in_executor), the default executor of a loop, and the loop's
 * mailbox through which workers hand outcomes back (executor_internal.h).
 *
 * The pool: a FIFO of work items under one mutex, workers waiting on a
 * condition variable. Threads start as work arrives, while the queue holds
 * more items than there are idle workers, up to max_workers (asyncio's
 * _adjust_thread_count). Shutting down lets the workers empty the queue and
 * end; whoever shuts down joins them.
 *
 * A job (run_in_executor) has two sides. The worker side runs fn and posts
 * the outcome to the loop's mailbox; the loop side is the future and the
 * job's place in the mailbox's list of jobs in flight. Each side holds one
 * reference to the job record; it is freed (and arg_dtor called) when both
 * are gone. Whether a queued job runs is decided by one compare-and-swap
 * on its state: a worker moves QUEUED to RUNNING, a cancel moves QUEUED to
 * CANCELLED, and the loser of the race keeps out. So cancelling a future
 * never has to touch the pool (which may be shutting down on another
 * thread): a cancelled job stays queued until a worker takes it and lets
 * it go.
 *
 * Futures are not thread safe (their reference counts are plain ints), so
 * a worker never touches the future: only the loop's thread does, when the
 * outcome message is delivered, or when the loop closes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "executor_internal.h"
#include "future_internal.h"
#include "loop_internal.h"

#define MAX_WORKERS_LIMIT 1024u

/* ---- the pool ------------------------------------------------------------- */

struct coio_executor {
  coio__mutex_t mu;
  coio__cond_t work_cv;   /* workers: work arrived, or shutdown */
  coio__cond_t joined_cv; /* shutdown callers: the threads were joined */
  coio__work_t *head, *tail;
  size_t queued;
  size_t max_workers;
  size_t nidle;  /* workers waiting on work_cv */
  size_t nalive; /* workers not yet returned */
  coio__thread_t **threads;
  size_t nthreads, threads_cap;
  int shutdown; /* no new work */
  int joining, joined;
  /* Called by the last worker to end after a shutdown began (async form). */
  void (*on_exit)(void *arg);
  void *on_exit_arg;
};

/* The pool whose worker is running on this thread, if any. */
static COIO__THREAD_LOCAL coio_executor_t *current_pool;

static size_t default_max_workers(void) {
  size_t n = (size_t)coio__cpu_count() + 4;
  return n > 32 ? 32 : n;
}

int coio_executor_new(coio_executor_t **out, size_t max_workers) {
  coio_executor_t *ex;
  int rc;
  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (max_workers > MAX_WORKERS_LIMIT)
    return COIO_EINVAL;
  if ((rc = coio__os_init()) != 0)
    return rc;
  ex = calloc(1, sizeof *ex);
  if (!ex)
    return COIO_ENOMEM;
  coio__mutex_init(&ex->mu);
  coio__cond_init(&ex->work_cv);
  coio__cond_init(&ex->joined_cv);
  ex->max_workers = max_workers ? max_workers : default_max_workers();
  *out = ex;
  return 0;
}

static void worker_main(void *arg) {
  coio_executor_t *ex = arg;
  void (*on_exit)(void *) = NULL;
  void *on_exit_arg = NULL;
  current_pool = ex;
  coio__mutex_lock(&ex->mu);
  for (;;) {
    coio__work_t *w;
    while (!ex->head && !ex->shutdown) {
      ex->nidle++;
      coio__cond_wait(&ex->work_cv, &ex->mu);
      ex->nidle--;
    }
    if (!ex->head)
      break; /* shut down and nothing left */
    w = ex->head;
    ex->head = w->next;
    if (!ex->head)
      ex->tail = NULL;
    ex->queued--;
    coio__mutex_unlock(&ex->mu);
    w->run(w);
    coio__mutex_lock(&ex->mu);
  }
  if (--ex->nalive == 0 && ex->on_exit) {
    on_exit = ex->on_exit;
    on_exit_arg = ex->on_exit_arg;
  }
  coio__mutex_unlock(&ex->mu);
  current_pool = NULL;
  /* Whoever frees the pool joins this thread first, so ex outlives this. */
  if (on_exit)
    on_exit(on_exit_arg);
}

/* Starts one more worker (mu held). */
static int start_worker(coio_executor_t *ex) {
  coio__thread_t *t;
  int rc;
  if (ex->nthreads == ex->threads_cap) {
    size_t ncap = ex->threads_cap ? ex->threads_cap * 2 : 4;
    coio__thread_t **n = realloc(ex->threads, ncap * sizeof *n);
    if (!n)
      return COIO_ENOMEM;
    ex->threads = n;
    ex->threads_cap = ncap;
  }
  if ((rc = coio__thread_start(&t, worker_main, ex)) != 0)
    return rc;
  ex->threads[ex->nthreads++] = t;
  ex->nalive++;
  return 0;
}

/* Queues w. COIO_ESHUTDOWN after a shutdown; if no worker exists and none
 * can start, the error why (w is not queued then). */
static int pool_submit(coio_executor_t *ex, coio__work_t *w) {
  int rc = 0;
  coio__mutex_lock(&ex->mu);
  if (ex->shutdown) {
    coio__mutex_unlock(&ex->mu);
    return COIO_ESHUTDOWN;
  }
  w->next = NULL;
  if (ex->tail)
    ex->tail->next = w;
  else
    ex->head = w;
  ex->tail = w;
  ex->queued++;
  if (ex->queued > ex->nidle && ex->nthreads < ex->max_workers) {
    rc = start_worker(ex);
    if (rc != 0 && ex->nthreads > 0)
      rc = 0; /* the workers there are will get to it */
  }
  if (rc != 0) {
    /* No worker at all: take w back out (it is the tail). */
    coio__work_t **p = &ex->head;
    while (*p != w)
      p = &(*p)->next;
    *p = NULL;
    ex->tail = ex->head;
    while (ex->tail && ex->tail->next)
      ex->tail = ex->tail->next;
    ex->queued--;
  } else {
    coio__cond_signal(&ex->work_cv);
  }
  coio__mutex_unlock(&ex->mu);
  return rc;
}

int coio_executor_shutdown(coio_executor_t *ex, int flags) {
  coio__work_t *dropped = NULL;
  coio__thread_t **threads = NULL;
  size_t i, n = 0;
  int joiner = 0;
  if (!ex || (flags & ~COIO_EXECUTOR_CANCEL_PENDING))
    return COIO_EINVAL;
  if (current_pool == ex)
    return COIO_EBUSY;
  coio__mutex_lock(&ex->mu);
  ex->shutdown = 1;
  if (flags & COIO_EXECUTOR_CANCEL_PENDING) {
    dropped = ex->head;
    ex->head = ex->tail = NULL;
    ex->queued = 0;
  }
  coio__cond_broadcast(&ex->work_cv);
  if (!ex->joining) {
    /* This caller joins. No thread starts once shutdown is set, so the
     * array is stable from here on. */
    ex->joining = joiner = 1;
    threads = ex->threads;
    n = ex->nthreads;
  }
  coio__mutex_unlock(&ex->mu);
  /* Outside the lock: dropping posts to mailboxes (other locks). */
  while (dropped) {
    coio__work_t *w = dropped;
    dropped = w->next;
    w->drop(w);
  }
  coio__mutex_lock(&ex->mu);
  if (joiner) {
    coio__mutex_unlock(&ex->mu);
    for (i = 0; i < n; i++)
      coio__thread_join(threads[i]);
    coio__mutex_lock(&ex->mu);
    ex->joined = 1;
    ex->nthreads = 0;
    coio__cond_broadcast(&ex->joined_cv);
  } else {
    while (!ex->joined)
      coio__cond_wait(&ex->joined_cv, &ex->mu);
  }
  coio__mutex_unlock(&ex->mu);
  return 0;
}

/* Begins a shutdown without waiting: 1 if no worker is alive (the pool can
 * be joined at once), else 0 and on_exit(arg) will be called by the last
 * worker as it ends. */
static int pool_shutdown_async(coio_executor_t *ex, void (*on_exit)(void *), void *arg) {
  int idle;
  coio__mutex_lock(&ex->mu);
  ex->shutdown = 1;
  coio__cond_broadcast(&ex->work_cv);
  idle = ex->nalive == 0;
  if (!idle) {
    ex->on_exit = on_exit;
    ex->on_exit_arg = arg;
  }
  coio__mutex_unlock(&ex->mu);
  return idle;
}

static void pool_destroy(coio_executor_t *ex) {
  free(ex->threads);
  coio__cond_destroy(&ex->work_cv);
  coio__cond_destroy(&ex->joined_cv);
  coio__mutex_destroy(&ex->mu);
  free(ex);
}

int coio_executor_free(coio_executor_t *ex) {
  int rc;
  if (!ex)
    return 0;
  if ((rc = coio_executor_shutdown(ex, 0)) != 0)
    return rc;
  pool_destroy(ex);
  return 0;
}

/* ---- the mailbox ------------------------------------------------------------ */

static void mailbox_drain(coio_loop_t *loop, void *arg);

int coio__mailbox_get(coio_loop_t *loop, coio__mailbox_t **out) {
  coio__mailbox_t *mb;
  int rc = 0;
  coio__mutex_lock(&loop->tsafe_lock);
  mb = loop->mailbox;
  if (!mb) {
    if (coio__atomic_load(&loop->tsafe_closed)) {
      rc = COIO_ECLOSED;
    } else if ((mb = calloc(1, sizeof *mb)) == NULL) {
      rc = COIO_ENOMEM;
    } else {
      coio__mutex_init(&mb->mu);
      coio__atomic_store(&mb->refs, 1); /* the loop's */
      mb->loop = loop;
      loop->mailbox = mb;
    }
  }
  coio__mutex_unlock(&loop->tsafe_lock);
  *out = mb;
  return rc;
}

void coio__mailbox_ref(coio__mailbox_t *mb) { coio__atomic_add(&mb->refs, 1); }

void coio__mailbox_unref(coio__mailbox_t *mb) {
  if (coio__atomic_add(&mb->refs, -1) != 0)
    return;
  coio__mutex_destroy(&mb->mu);
  free(mb);
}

int coio__mailbox_post(coio__mailbox_t *mb, coio__msg_t *msg) {
  coio__mutex_lock(&mb->mu);
  if (!mb->loop) {
    coio__mutex_unlock(&mb->mu);
    return COIO_ECLOSED;
  }
  msg->next = NULL;
  if (mb->tail)
    mb->tail->next = msg;
  else
    mb->head = msg;
  mb->tail = msg;
  /* If scheduling fails (the loop is closing, or out of memory) the message
   * stays in the inbox: the next post schedules the drain again, and a
   * closing loop drops what is left (coio__executor_loop_close). */
  if (!mb->drain_scheduled && coio_call_soon_threadsafe(mb->loop, mailbox_drain, mb) == 0)
    mb->drain_scheduled = 1;
  coio__mutex_unlock(&mb->mu);
  return 0;
}

/* Runs on the loop's thread: delivers what has been posted so far. The
 * loop's reference keeps mb alive while the loop can run callbacks. */
static void mailbox_drain(coio_loop_t *loop, void *arg) {
  coio__mailbox_t *mb = arg;
  coio__msg_t *m;
  coio__mutex_lock(&mb->mu);
  m = mb->head;
  mb->head = mb->tail = NULL;
  mb->drain_scheduled = 0;
  coio__mutex_unlock(&mb->mu);
  while (m) {
    coio__msg_t *next = m->next;
    m->run(m, loop);
    m = next;
  }
}

/* ---- jobs --------------------------------------------------------------------- */

enum { JOB_QUEUED, JOB_RUNNING, JOB_CANCELLED };

typedef struct job_future job_future_t;

typedef struct coio__job {
  coio__work_t work; /* the pool's queue link */
  coio__msg_t done;  /* the outcome, to the loop */
  coio__atomic_int refs;  /* the worker side and the loop side */
  coio__atomic_int state; /* JOB_* */
  coio__mailbox_t *mb;    /* referenced */
  coio_task_fn fn;
  void *arg;
  void (*arg_dtor)(void *);
  void (*result_dtor)(void *);
  /* written by the worker before posting done */
  int rc;
  void *result;
  /* the loop side */
  job_future_t *fut; /* referenced while the job is in flight */
  struct coio__job *prev, *next; /* mb->jobs */
} coio__job_t;

struct job_future {
  coio_future_t fut; /* first */
  coio__job_t *job;  /* NULL once the loop side let go */
};

static void job_unref(coio__job_t *job) {
  if (coio__atomic_add(&job->refs, -1) != 0)
    return;
  if (job->arg_dtor)
    job->arg_dtor(job->arg);
  coio__mailbox_unref(job->mb);
  free(job);
}

static void drop_result(coio__job_t *job) {
  if (job->result && job->result_dtor)
    job->result_dtor(job->result);
  job->result = NULL;
}

/* The loop side lets go: out of the list of jobs in flight, the future's
 * in-flight reference and the loop side's job reference dropped. */
static void job_release_loop_side(coio__job_t *job) {
  coio__mailbox_t *mb = job->mb;
  job_future_t *jf = job->fut;
  if (job->prev)
    job->prev->next = job->next;
  else
    mb->jobs = job->next;
  if (job->next)
    job->next->prev = job->prev;
  job->prev = job->next = NULL;
  job->fut = NULL;
  jf->job = NULL;
  coio_future_unref(&jf->fut);
  job_unref(job);
}

/* The outcome reaches the loop; or the loop closed (loop is NULL, and this
 * may be a worker thread: the loop side's fields are not touched then, the
 * closing loop releases that side itself). */
static void job_done_msg(coio__msg_t *msg, coio_loop_t *loop) {
  coio__job_t *job = COIO__CONTAINER_OF(msg, coio__job_t, done);
  coio_future_t *fut = loop && job->fut ? &job->fut->fut : NULL;
  if (fut && fut->state == COIO_FUTURE_PENDING) {
    if (job->rc == 0) {
      coio_future_set_result(fut, job->result, job->result_dtor);
      job->result = NULL; /* the future owns it now */
    } else if (job->rc == COIO_ECANCELED) {
      coio__future_cancel_now(fut, "the executor was shut down before the job started");
    } else {
      coio_future_set_error(fut, job->rc, NULL);
    }
  }
  drop_result(job); /* nobody can receive it any more */
  if (fut)
    job_release_loop_side(job);
  job_unref(job); /* the worker side's reference, carried by msg */
}

static void job_post(coio__job_t *job) {
  if (coio__mailbox_post(job->mb, &job->done) != 0)
    job_done_msg(&job->done, NULL);
}

static void job_run(coio__work_t *w) {
  coio__job_t *job = COIO__CONTAINER_OF(w, coio__job_t, work);
  void *result = NULL;
  int rc;
  if (!coio__atomic_cas(&job->state, JOB_QUEUED, JOB_RUNNING)) {
    job_unref(job); /* cancelled while queued: the loop side is done */
    return;
  }
  rc = job->fn(job->arg, &result);
  if (rc > 0) /* not a COIO_E* code: a programming error, as for tasks */
    rc = COIO_EINVAL;
  if (rc != 0 && result && job->result_dtor) {
    job->result_dtor(result); /* a failed job's result is not delivered */
    result = NULL;
  }
  job->rc = rc;
  job->result = rc == 0 ? result : NULL;
  job_post(job);
}

static void job_drop(coio__work_t *w) {
  coio__job_t *job = COIO__CONTAINER_OF(w, coio__job_t, work);
  if (!coio__atomic_cas(&job->state, JOB_QUEUED, JOB_CANCELLED)) {
    job_unref(job);
    return;
  }
  job->rc = COIO_ECANCELED;
  job_post(job);
}

/* coio_future_cancel on a job's future (the loop's thread). */
static int job_future_cancel(coio_future_t *fut, const char *message) {
  job_future_t *jf = (job_future_t *)fut;
  coio__job_t *job = jf->job;
  int rc;
  if (fut->state != COIO_FUTURE_PENDING)
    return COIO_EINVALSTATE;
  rc = coio__future_cancel_now(fut, message);
  /* Not started: it never will (the worker that takes it lets it go). A
   * running job goes on; job_done_msg drops its result. */
  if (job && coio__atomic_cas(&job->state, JOB_QUEUED, JOB_CANCELLED))
    job_release_loop_side(job);
  return rc;
}

static const coio__future_ops_t job_future_ops = {job_future_cancel, NULL};

/* ---- the default executor ----------------------------------------------------- */

static coio__mailbox_t *loop_mailbox(coio_loop_t *loop) {
  coio__mailbox_t *mb;
  coio__mutex_lock(&loop->tsafe_lock);
  mb = loop->mailbox;
  coio__mutex_unlock(&loop->tsafe_lock);
  return mb;
}

static void default_executor_shutdown_hook(coio_loop_t *loop);

static int default_executor(coio_loop_t *loop, coio__mailbox_t *mb, coio_executor_t **out) {
  int rc;
  if (mb->default_shutdown)
    return COIO_ESHUTDOWN;
  if (!mb->default_ex) {
    if ((rc = coio_executor_new(&mb->default_ex, mb->default_size)) != 0)
      return rc;
    loop->executor_shutdown = default_executor_shutdown_hook;
  }
  *out = mb->default_ex;
  return 0;
}

int coio_loop_set_default_executor_size(coio_loop_t *loop, size_t max_workers) {
  coio__mailbox_t *mb;
  int rc;
  if (!loop || max_workers > MAX_WORKERS_LIMIT)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if ((rc = coio__mailbox_get(loop, &mb)) != 0)
    return rc;
  mb->default_size = max_workers;
  if (mb->default_ex) {
    coio__mutex_lock(&mb->default_ex->mu);
    mb->default_ex->max_workers = max_workers ? max_workers : default_max_workers();
    coio__mutex_unlock(&mb->default_ex->mu);
  }
  return 0;
}

/* The default pool's last worker ended (a worker thread). */
static void default_pool_exited(void *arg) {
  coio__mailbox_t *mb = arg;
  if (coio__mailbox_post(mb, &mb->shutdown_msg) != 0)
    return; /* the loop closed: its close joins the pool */
}

static void finish_default_shutdown(coio__mailbox_t *mb) {
  if (mb->default_ex) {
    coio_executor_free(mb->default_ex); /* its workers have ended: quick */
    mb->default_ex = NULL;
  }
  if (mb->shutdown_fut && !coio_future_done(mb->shutdown_fut))
    coio_future_set_result(mb->shutdown_fut, NULL, NULL);
}

static void shutdown_msg_run(coio__msg_t *msg, coio_loop_t *loop) {
  if (loop)
    finish_default_shutdown(COIO__CONTAINER_OF(msg, coio__mailbox_t, shutdown_msg));
}

int coio_loop_shutdown_default_executor(coio_loop_t *loop, coio_future_t **out) {
  coio__mailbox_t *mb;
  coio_future_t *f;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !out)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if ((rc = coio__mailbox_get(loop, &mb)) != 0)
    return rc;
  if (!mb->shutdown_fut) {
    if ((rc = coio_future_new(loop, &f)) != 0)
      return rc;
    mb->shutdown_fut = f;
    mb->default_shutdown = 1;
    mb->shutdown_msg.run = shutdown_msg_run;
    if (!mb->default_ex || pool_shutdown_async(mb->default_ex, default_pool_exited, mb))
      finish_default_shutdown(mb);
  }
  *out = coio_future_ref(mb->shutdown_fut);
  return 0;
}

/* coio_run's hook, as asyncio.run does run_until_complete(
 * loop.shutdown_default_executor()): the loop runs while the pool winds
 * down, so jobs that wait for the loop (a cfuture of a task, a call they
 * posted) can finish. If the loop cannot run here (already running, or
 * stopped by a callback first), the pool is shut down blocking. */
static void default_executor_shutdown_hook(coio_loop_t *loop) {
  coio_future_t *f = NULL;
  coio__mailbox_t *mb;
  if (coio_loop_shutdown_default_executor(loop, &f) == 0) {
    if (!coio_future_done(f))
      coio_loop_run_until_complete(loop, f);
    coio_future_unref(f);
  }
  mb = loop_mailbox(loop);
  if (mb && mb->default_ex) {
    coio_executor_free(mb->default_ex);
    mb->default_ex = NULL;
  }
}

/* ---- run_in_executor ---------------------------------------------------------- */

int coio_run_in_executor(coio_loop_t *loop, coio_executor_t *ex, coio_task_fn fn, void *arg,
                         const coio_executor_job_options_t *opts, coio_future_t **out) {
  coio__mailbox_t *mb;
  coio__job_t *job;
  job_future_t *jf;
  int rc;
  if (out)
    *out = NULL;
  if (!loop || !fn || !out)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if ((rc = coio__mailbox_get(loop, &mb)) != 0)
    return rc;
  if (!ex && (rc = default_executor(loop, mb, &ex)) != 0)
    return rc;
  job = calloc(1, sizeof *job);
  jf = calloc(1, sizeof *jf);
  if (!job || !jf) {
    free(job);
    free(jf);
    return COIO_ENOMEM;
  }
  job->work.run = job_run;
  job->work.drop = job_drop;
  job->done.run = job_done_msg;
  coio__atomic_store(&job->refs, 2);
  coio__atomic_store(&job->state, JOB_QUEUED);
  job->mb = mb;
  job->fn = fn;
  job->arg = arg;
  if (opts) {
    job->arg_dtor = opts->arg_dtor;
    job->result_dtor = opts->result_dtor;
  }
  coio__future_init(&jf->fut, loop, &job_future_ops);
  jf->job = job;
  job->fut = jf; /* the reference from init: the in-flight one */
  coio__mailbox_ref(mb);
  if ((rc = pool_submit(ex, &job->work)) != 0) {
    coio__mailbox_unref(mb);
    free(job);
    free(jf);
    return rc;
  }
  /* The outcome is delivered on this thread, so linking after the submit
   * is in time. */
  job->next = mb->jobs;
  if (mb->jobs)
    mb->jobs->prev = job;
  mb->jobs = job;
  *out = coio_future_ref(&jf->fut);
  return 0;
}

/* ---- a closing loop --------------------------------------------------------------- */

void coio__executor_loop_close(coio_loop_t *loop) {
  coio__mailbox_t *mb;
  coio__msg_t *m;
  coio__mutex_lock(&loop->tsafe_lock);
  mb = loop->mailbox;
  loop->mailbox = NULL;
  coio__mutex_unlock(&loop->tsafe_lock);
  loop->executor_shutdown = NULL;
  if (!mb)
    return;
  /* 1. Detach: from now on workers drop their outcomes themselves. */
  coio__mutex_lock(&mb->mu);
  mb->loop = NULL;
  m = mb->head;
  mb->head = mb->tail = NULL;
  coio__mutex_unlock(&mb->mu);
  /* 2. What was posted but never delivered. */
  while (m) {
    coio__msg_t *next = m->next;
    m->run(m, NULL);
    m = next;
  }
  /* 3. Jobs in flight: their futures end cancelled without callbacks, as
   * the loop's tasks do. */
  while (mb->jobs) {
    coio__job_t *job = mb->jobs;
    coio__future_abandon(&job->fut->fut, "the loop was closed before the job ended");
    job_release_loop_side(job);
  }
  /* 4. Tasks spawned from other threads: their handles end (COIO_ECLOSED),
   * which also frees a job waiting for one of them before step 5. */
  coio__cfutures_close(mb);
  if (mb->shutdown_fut) {
    coio__future_abandon(mb->shutdown_fut, "the loop was closed");
    coio_future_unref(mb->shutdown_fut);
    mb->shutdown_fut = NULL;
  }
  /* 5. The default executor: its work finishes (asyncio lets it finish in
   * the background; here the threads are joined so that none outlives the
   * loop; their outcomes are dropped on their threads), then it is freed. */
  mb->default_shutdown = 1;
  if (mb->default_ex) {
    coio_executor_free(mb->default_ex);
    mb->default_ex = NULL;
  }
  coio__mailbox_unref(mb);
}
