/* Example 5 (seed): a Future and a coroutine. A task sleeps one second,
 * then sets a future's result; run_until_complete(future) returns and the
 * result is printed. */
#include <stdio.h>

#include "example_util.h"

static int slow_operation(void *arg, void **result) {
  coio_future_t *future = arg;
  (void)result;
  coio_sleep(1.0);
  coio_future_set_result(future, "Future is done!", NULL);
  return 0;
}

int main(void) {
  coio_loop_t *loop = example_loop();
  coio_future_t *future;
  void *value;
  coio_future_new(loop, &future);
  coio_task_spawn(loop, slow_operation, future, NULL, NULL);
  coio_loop_run_until_complete(loop, future);
  if (coio_future_result(future, &value) == 0)
    printf("%s\n", (const char *)value);
  coio_future_unref(future);
  coio_loop_free(loop);
  return 0;
}
