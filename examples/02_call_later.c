/* Example 2 (seed): call_later. A callback prints the current date and time
 * every second and reschedules itself, for 5 seconds, then stops the loop. */
#include <stdio.h>

#include "example_util.h"

typedef struct clock_job {
  double end_time;
} clock_job_t;

static void display_date(coio_loop_t *loop, void *user_data) {
  clock_job_t *job = user_data;
  char now[64];
  example_now(now, sizeof now);
  printf("%s\n", now);
  fflush(stdout);
  if (coio_loop_time(loop) + 1.0 < job->end_time)
    coio_call_later(loop, 1.0, display_date, job, NULL);
  else
    coio_loop_stop(loop);
}

int main(void) {
  coio_loop_t *loop = example_loop();
  clock_job_t job;
  job.end_time = coio_loop_time(loop) + 5.0;
  coio_call_soon(loop, display_date, &job, NULL);
  coio_loop_run_forever(loop);
  coio_loop_free(loop);
  return 0;
}
