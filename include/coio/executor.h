/* coio/executor.h - a thread pool for blocking calls (asyncio's
 * loop.run_in_executor and ThreadPoolExecutor), and running a task on a
 * loop from another thread (asyncio.run_coroutine_threadsafe).
 *
 * A job is a coio_task_fn, `int fn(void *arg, void **result)`, run on a
 * pool thread: it returns 0 with *result set, or a negative COIO_E* code.
 * Its future belongs to the loop that submitted it and is completed on that
 * loop's thread (the pool hands the outcome over with
 * coio_call_soon_threadsafe), so awaiting it from a task is the usual
 * coio_await.
 *
 * Every loop has a default executor, made on first use with
 * min(32, processors + 4) threads (asyncio's default) or the size set with
 * coio_loop_set_default_executor_size. Threads are started as work arrives,
 * up to that size. coio_run shuts the default executor down (waiting for
 * its work) before closing its loop; closing a loop does the same.
 *
 *   static int blocking_read(void *arg, void **result) { ... }
 *   coio_future_t *f;
 *   coio_run_in_executor(loop, NULL, blocking_read, path, NULL, &f);
 *   rc = coio_await(f);                    (in a task)
 *   coio_future_result(f, &data);
 *   coio_future_unref(f); */
#ifndef COIO_EXECUTOR_H
#define COIO_EXECUTOR_H

#include "task.h"

COIO_BEGIN_DECLS

/* A pool of worker threads. Thread safe: any thread may submit to it or
 * shut it down (not one of its own workers, see below); free it once no
 * thread submits to it any more. Jobs of several loops may share a pool,
 * and a pool may outlive the loops that used it. */
typedef struct coio_executor coio_executor_t;

/* A new pool of at most max_workers threads (0: the default size above;
 * at most 1024, else COIO_EINVAL). No thread starts before work arrives.
 * *out owns the pool: release it with coio_executor_free. */
COIO_API int coio_executor_new(coio_executor_t **out, size_t max_workers);

enum {
  /* coio_executor_shutdown: drop the queued jobs that have not started
   * (their futures end cancelled) instead of running them. */
  COIO_EXECUTOR_CANCEL_PENDING = 1
};

/* asyncio's Executor.shutdown(wait=True): refuses new jobs from now on
 * (COIO_ESHUTDOWN), lets the running jobs and (unless CANCEL_PENDING) the
 * queued ones finish, then joins the threads. Blocks the calling thread;
 * the outcomes reach their loops when those loops run next. Idempotent;
 * concurrent calls all return once the threads are joined. COIO_EBUSY from
 * one of the pool's own workers (it would wait for itself). */
COIO_API int coio_executor_shutdown(coio_executor_t *ex, int flags);

/* Shuts the pool down (waiting, as coio_executor_shutdown with flags 0)
 * and frees it. NULL is a no-op returning 0; COIO_EBUSY from one of its
 * own workers (nothing is freed then). */
COIO_API int coio_executor_free(coio_executor_t *ex);

/* Per-job options for coio_run_in_executor. Zero-initialise. */
typedef struct coio_executor_job_options {
  /* Frees a result: the future's value when the future is freed, or a
   * result nobody can receive any more (the future was cancelled while the
   * job ran, or the loop closed). May run on the loop's thread or a worker
   * thread. NULL: results are not freed. */
  void (*result_dtor)(void *result);
  /* Called once with arg when the job is released, whether it ran or was
   * cancelled before starting, so a heap-allocated arg is not leaked. May
   * run on the loop's thread or a worker thread. NULL: nothing. */
  void (*arg_dtor)(void *arg);
} coio_executor_job_options_t;

/* asyncio's loop.run_in_executor: queues fn(arg) on ex (NULL: the loop's
 * default executor, made now if needed) and gives in *out a future of loop
 * (one reference, the caller's) that completes on the loop's thread with
 * the job's result (the value, owned by the future) or its error.
 * Cancelling the future before the job starts keeps it from running; a
 * running job runs to its end and its result is dropped (result_dtor).
 * opts may be NULL. From the loop's thread only. Errors: COIO_EINVAL (NULL
 * loop, fn or out), COIO_ECLOSED (closed loop), COIO_ESHUTDOWN (ex, or the
 * default executor, was shut down), COIO_ENOMEM, or why no thread could
 * start. On error arg_dtor is not called: arg stays the caller's. */
COIO_API int coio_run_in_executor(coio_loop_t *loop, coio_executor_t *ex, coio_task_fn fn,
                                  void *arg, const coio_executor_job_options_t *opts,
                                  coio_future_t **out);

/* The size of loop's default executor (>= 1, at most 1024; 0 restores the
 * default). Before the executor exists this sets the size it is made with;
 * afterwards it changes its limit (threads already started stay until the
 * shutdown). From the loop's thread. COIO_EINVAL, COIO_ECLOSED. */
COIO_API int coio_loop_set_default_executor_size(coio_loop_t *loop, size_t max_workers);

/* asyncio's loop.shutdown_default_executor: refuses new default-executor
 * jobs (COIO_ESHUTDOWN), and gives in *out a future of loop that completes
 * (result NULL) once the queued and running jobs have finished and the
 * threads are joined, without blocking the loop meanwhile. Await it from a
 * task or give it to coio_loop_run_until_complete. Without a default
 * executor the future is already done. From the loop's thread. Errors:
 * COIO_EINVAL, COIO_ECLOSED, COIO_ENOMEM. */
COIO_API int coio_loop_shutdown_default_executor(coio_loop_t *loop, coio_future_t **out);

/* ---- run_coroutine_threadsafe ------------------------------------------ */

/* A thread-safe handle on a task spawned from another thread: asyncio's
 * concurrent.futures.Future returned by run_coroutine_threadsafe. */
typedef struct coio_cfuture coio_cfuture_t;

/* From any thread other than loop's own: spawns fn(arg) as a task of loop
 * (coio_task_spawn on the loop's thread, at its next iteration) and gives
 * in *out a handle to wait for it. opts may be NULL (its name is copied);
 * opts->result_dtor frees the task's result when the handle is freed.
 * arg stays the caller's (a task that never starts never sees it).
 * The loop must be neither freed nor closed while this runs (closing is
 * detected: COIO_ECLOSED). Errors: COIO_EINVAL, COIO_ECLOSED, COIO_ENOMEM.
 * The caller owns *out: release it with coio_cfuture_free. */
COIO_API int coio_run_threadsafe(coio_loop_t *loop, coio_task_fn fn, void *arg,
                                 const coio_task_options_t *opts, coio_cfuture_t **out);

/* Blocks the calling thread until the task ended or timeout seconds passed
 * (0 polls; COIO_NO_TIMEOUT or any infinity waits without limit). Returns
 * the task's status: 0 with *result (may be NULL; stays owned by the
 * handle), its error code, COIO_ECANCELED, or COIO_ECLOSED when the loop
 * was closed before the task ended; COIO_ETIMEDOUT if it is still running;
 * COIO_EINVAL for NULL, a negative or NaN timeout; COIO_EBUSY when called
 * from a task of the same loop (it would wait for itself). Never call it
 * from the loop's thread outside tasks either: the loop could not run. */
COIO_API int coio_cfuture_wait(coio_cfuture_t *cf, double timeout, void **result);

/* 1 once the task ended (wait would not block), else 0. Any thread. */
COIO_API int coio_cfuture_done(const coio_cfuture_t *cf);

/* Asks the loop to cancel the task (coio_task_cancel on the loop's thread;
 * a task not started yet never runs). Any thread. 0 if the request was
 * made (the task may still swallow it, as in asyncio), COIO_EINVALSTATE if
 * the task already ended, COIO_EINVAL for NULL. */
COIO_API int coio_cfuture_cancel(coio_cfuture_t *cf);

/* Releases the handle, from any thread, before or after the task ended
 * (a running task goes on; its result is freed when it ends). NULL is a
 * no-op. */
COIO_API void coio_cfuture_free(coio_cfuture_t *cf);

COIO_END_DECLS

#endif /* COIO_EXECUTOR_H */
