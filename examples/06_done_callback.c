/* Example 6 (seed): a Future with a done callback. A task sleeps one second
 * and sets the future's result; the done callback prints it and stops the
 * loop, so run_forever returns. */
#include <stdio.h>

#include "example_util.h"

static int slow_operation(void *arg, void **result) {
  coio_future_t *future = arg;
  (void)result;
  coio_sleep(1.0);
  coio_future_set_result(future, "Future is done!", NULL);
  return 0;
}

static void got_result(coio_future_t *future, void *user_data) {
  void *value;
  (void)user_data;
  if (coio_future_result(future, &value) == 0)
    printf("%s\n", (const char *)value);
  coio_loop_stop(coio_future_loop(future));
}

int main(void) {
  coio_loop_t *loop = example_loop();
  coio_future_t *future;
  coio_future_new(loop, &future);
  coio_task_spawn(loop, slow_operation, future, NULL, NULL);
  coio_future_add_done_callback(future, got_result, NULL);
  coio_loop_run_forever(loop);
  coio_future_unref(future);
  coio_loop_free(loop);
  return 0;
}
