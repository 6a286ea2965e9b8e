// tests/test_headers_cxx.cpp - the public headers compile and link as C++.
#include "coio/coio.h"

#include <cstdio>

static void hello(coio_loop_t *loop, void *arg) {
  *static_cast<int *>(arg) = 1;
  coio_loop_stop(loop);
}

int main() {
  coio_loop_t *loop = nullptr;
  int ran = 0;
  if (coio_loop_new(&loop, nullptr) != 0)
    return 1;
  if (coio_call_soon(loop, hello, &ran, nullptr) != 0 || coio_loop_run_forever(loop) != 0)
    return 1;
  coio_loop_free(loop);
  std::printf("headers_cxx: %s\n", ran ? "ok" : "callback did not run");
  return ran ? 0 : 1;
}
