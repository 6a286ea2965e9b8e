/* Example (unnumbered): run_in_executor. A blocking call (here a "copy"
 * that sleeps 0.1 s per chunk, standing for a library without an
 * asynchronous API) runs in the loop's default thread pool, while the loop
 * stays responsive: a ticker task wakes every 50 ms and shows the copy's
 * progress, which the pool thread reports with coio_call_soon_threadsafe.
 *
 * The output does not depend on timing: the ticker prints every step it
 * has not shown yet, and the last progress report reaches the loop before
 * the job's result does (both travel through call_soon_threadsafe, in
 * order), so the main task shows any step left before printing it. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif

#include "example_util.h"

#define CHUNKS 3

static int chunks_done; /* written by the loop's thread only */
static int chunks_shown;

/* The blocking primitive being simulated. */
static void blocking_sleep_ms(unsigned ms) {
#ifdef _WIN32
  Sleep(ms);
#else
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0)
    ;
#endif
}

/* On the loop's thread: a pool thread reported progress. */
static void on_progress(coio_loop_t *loop, void *arg) {
  (void)loop;
  chunks_done = (int)(intptr_t)arg;
}

/* On a pool thread: the blocking call. */
static int blocking_copy(void *arg, void **result) {
  coio_loop_t *loop = arg;
  int i;
  for (i = 1; i <= CHUNKS; i++) {
    blocking_sleep_ms(100);
    coio_call_soon_threadsafe(loop, on_progress, (void *)(intptr_t)i);
  }
  *result = "copied 3 chunks";
  return 0;
}

static void show_progress(void) {
  while (chunks_shown < chunks_done) {
    chunks_shown++;
    printf("progress: %d/%d chunks\n", chunks_shown, CHUNKS);
  }
}

/* The loop is free while the copy blocks: this task runs every 50 ms. */
static int ticker(void *arg, void **result) {
  (void)arg;
  (void)result;
  for (;;) {
    int rc = coio_sleep(0.05);
    if (rc != 0)
      return rc; /* cancelled: the copy is over */
    show_progress();
  }
}

static int main_task(void *arg, void **result) {
  coio_loop_t *loop = coio_future_loop(coio_task_current());
  coio_task_t *tick;
  coio_future_t *job;
  void *value;
  int rc;
  (void)arg;
  (void)result;
  if ((rc = coio_task_spawn(loop, ticker, NULL, NULL, &tick)) != 0)
    return rc;
  /* NULL: the loop's default executor. */
  if ((rc = coio_run_in_executor(loop, NULL, blocking_copy, loop, NULL, &job)) != 0) {
    coio_task_cancel(tick, NULL);
    coio_future_unref(tick);
    return rc;
  }
  printf("started a blocking copy in the thread pool\n");
  rc = coio_await(job); /* the loop runs the ticker meanwhile */
  show_progress();      /* the steps reported since the last tick */
  coio_task_cancel(tick, NULL);
  coio_await(tick);
  coio_future_unref(tick);
  if (rc == 0 && coio_future_result(job, &value) == 0)
    printf("result: %s\n", (const char *)value);
  coio_future_unref(job);
  return rc;
}

int main(void) {
  /* coio_run: asyncio.run, which also shuts the default executor down. */
  int rc = coio_run(main_task, NULL, NULL, NULL);
  if (rc != 0) {
    fprintf(stderr, "run_in_executor: %s\n", coio_strerror(rc));
    return 1;
  }
  return 0;
}
