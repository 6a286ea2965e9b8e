/* Example 1 (seed): call_soon. A callback prints "Hello World" and stops the
 * loop, so run_forever returns. */
#include <stdio.h>

#include "example_util.h"

static void hello_world(coio_loop_t *loop, void *user_data) {
  (void)user_data;
  printf("Hello World\n");
  coio_loop_stop(loop);
}

int main(void) {
  coio_loop_t *loop = example_loop();
  /* Schedule a call to hello_world(), then block until it stops the loop. */
  coio_call_soon(loop, hello_world, NULL, NULL);
  coio_loop_run_forever(loop);
  coio_loop_free(loop);
  return 0;
}
