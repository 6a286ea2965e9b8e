/* Example 7 (seed): tasks in parallel. Three tasks compute factorial(2),
 * (3) and (4), sleeping one second per step; gather runs them together, so
 * the whole takes about 3 seconds, not 9. */
#include <stdio.h>

#include "example_util.h"

typedef struct job {
  const char *name;
  int number;
} job_t;

static int factorial(void *arg, void **result) {
  job_t *job = arg;
  long f = 1;
  int i;
  (void)result;
  for (i = 2; i <= job->number; i++) {
    printf("Task %s: Compute factorial(%d)...\n", job->name, i);
    fflush(stdout);
    if (coio_sleep(1.0) != 0)
      return COIO_ECANCELED;
    f *= i;
  }
  printf("Task %s: factorial(%d) = %ld\n", job->name, job->number, f);
  fflush(stdout);
  return 0;
}

int main(void) {
  coio_loop_t *loop = example_loop();
  job_t jobs[3] = {{"A", 2}, {"B", 3}, {"C", 4}};
  coio_task_t *tasks[3];
  coio_future_t *all;
  double start = coio_loop_time(loop);
  int i;
  for (i = 0; i < 3; i++)
    coio_task_spawn(loop, factorial, &jobs[i], NULL, &tasks[i]);
  coio_gather(loop, tasks, 3, 0, &all);
  coio_loop_run_until_complete(loop, all);
  fprintf(stderr, "(took %.1f s)\n", coio_loop_time(loop) - start);
  coio_future_unref(all);
  for (i = 0; i < 3; i++)
    coio_future_unref(tasks[i]);
  coio_loop_free(loop);
  return 0;
}
