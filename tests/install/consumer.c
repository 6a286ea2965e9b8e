/* tests/install/consumer.c - what a user of an installed coio writes. */
#include <coio/coio.h>
#include <stdio.h>

static void hello(coio_loop_t *loop, void *arg) {
  (void)arg;
  printf("consumer: Hello from coio\n");
  coio_loop_stop(loop);
}

int main(void) {
  coio_loop_t *loop;
  if (coio_loop_new(&loop, NULL) != 0)
    return 1;
  coio_call_soon(loop, hello, NULL, NULL);
  coio_loop_run_forever(loop);
  return coio_loop_free(loop) == 0 ? 0 : 1;
}
