/* tests/bench/echo_libevent.c - libevent's echo server, written the usual
 * way: an evconnlistener and one bufferevent per connection whose read
 * callback moves the input buffer to the output buffer. */
#include "echo_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void on_read(struct bufferevent *bev, void *arg) {
  (void)arg;
  evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  (void)arg;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg) {
  struct bufferevent *bev;
  (void)sa;
  (void)salen;
  (void)arg;
  echo_nodelay(fd);
  bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    close(fd);
    return;
  }
  bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int main(int argc, char **argv) {
  echo_args_t a;
  struct event_base *base;
  struct evconnlistener *l;
  echo_parse(argc, argv, &a);
  base = event_base_new();
  /* The same listening socket as the other servers (listened on again). */
  l = base ? evconnlistener_new(base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE, ECHO_BACKLOG,
                                echo_listen(&a, 1))
           : NULL;
  if (!l) {
    fprintf(stderr, "libevent: cannot listen\n");
    return 1;
  }
  event_base_dispatch(base);
  return 0;
}
