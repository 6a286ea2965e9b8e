/* tests/test_dns.c - asynchronous getaddrinfo/getnameinfo on the default
 * executor, and the socket address helpers of net.h.
 *
 * This machine has no network: only numeric addresses, "localhost" and
 * names under .invalid (which the resolver refuses without asking a
 * server, or fails fast for want of one) are looked up. Every lookup runs
 * under a watchdog, so a resolver that hangs fails the test instead of
 * blocking it. Runs once per backend. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define BOUND 30.0

static void stop_when_done(coio_future_t *fut, void *arg) {
  (void)arg;
  coio_loop_stop(coio_future_loop(fut));
}

/* Runs the loop until fut is done (BOUND seconds at most): 0 if it is. */
static int run_until_done(coio_loop_t *loop, coio_future_t *fut) {
  if (!coio_future_done(fut)) {
    assert_int_equal(coio_future_add_done_callback(fut, stop_when_done, NULL), 0);
    test_run_bounded(loop, BOUND);
    coio_future_remove_done_callback(fut, stop_when_done, NULL);
  }
  return coio_future_done(fut) ? 0 : -1;
}

/* Resolves and returns the lookup's status; *out: the list (owned by *fut,
 * which the caller releases). */
static int resolve(coio_loop_t *loop, const char *host, const char *service,
                   const coio_addrinfo_hints_t *hints, coio_future_t **fut,
                   coio_addrinfo_t **out) {
  void *v = NULL;
  int rc;
  *out = NULL;
  assert_int_equal(coio_getaddrinfo(loop, host, service, hints, fut), 0);
  assert_int_equal(run_until_done(loop, *fut), 0);
  rc = coio_future_result(*fut, &v);
  *out = v;
  return rc;
}

static int is_loopback(const coio_addrinfo_t *ai) {
  char s[COIO_SOCKADDR_STRLEN];
  if (coio_sockaddr_to_string(&ai->addr, s, sizeof s) != 0)
    return 0;
  if (ai->family == COIO_AF_INET)
    return strncmp(s, "127.", 4) == 0;
  return ai->family == COIO_AF_INET6 && strcmp(s, "::1") == 0;
}

/* ---- getaddrinfo ----------------------------------------------------------- */

static void numeric_ipv4_with_a_port(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_addrinfo_t *ai;
  coio_future_t *f;
  char s[COIO_SOCKADDR_STRLEN];
  (void)state;
  memset(&h, 0, sizeof h);
  h.socktype = COIO_SOCK_STREAM;
  h.flags = COIO_AI_NUMERICHOST | COIO_AI_NUMERICSERV;
  assert_int_equal(resolve(loop, "127.0.0.1", "8080", &h, &f, &ai), 0);
  assert_non_null(ai);
  assert_null(ai->next);
  assert_int_equal(ai->family, COIO_AF_INET);
  assert_int_equal(coio_sockaddr_family(&ai->addr), COIO_AF_INET);
  assert_int_equal(ai->socktype, COIO_SOCK_STREAM);
  assert_true(ai->protocol == COIO_IPPROTO_TCP || ai->protocol == COIO_IPPROTO_ANY);
  assert_int_equal(coio_sockaddr_port(&ai->addr), 8080);
  assert_int_equal(coio_sockaddr_to_string(&ai->addr, s, sizeof s), 0);
  assert_string_equal(s, "127.0.0.1");
  assert_null(ai->canonname);
  coio_future_unref(f); /* frees the list */
  test_loop_free(loop);
}

static void numeric_ipv6(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_addrinfo_t *ai;
  coio_future_t *f;
  char s[COIO_SOCKADDR_STRLEN];
  (void)state;
  memset(&h, 0, sizeof h);
  h.family = COIO_AF_INET6;
  h.socktype = COIO_SOCK_DGRAM;
  h.flags = COIO_AI_NUMERICHOST;
  assert_int_equal(resolve(loop, "::1", "53", &h, &f, &ai), 0);
  assert_non_null(ai);
  assert_int_equal(ai->family, COIO_AF_INET6);
  assert_int_equal(ai->socktype, COIO_SOCK_DGRAM);
  assert_int_equal(coio_sockaddr_port(&ai->addr), 53);
  assert_int_equal(coio_sockaddr_to_string(&ai->addr, s, sizeof s), 0);
  assert_string_equal(s, "::1");
  coio_future_unref(f);
  test_loop_free(loop);
}

static void localhost_resolves_to_loopback(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_addrinfo_t *ai, *p;
  coio_future_t *f;
  int n = 0;
  (void)state;
  memset(&h, 0, sizeof h);
  h.socktype = COIO_SOCK_STREAM;
  h.flags = COIO_AI_CANONNAME;
  assert_int_equal(resolve(loop, "localhost", "80", &h, &f, &ai), 0);
  assert_non_null(ai);
  for (p = ai; p; p = p->next, n++) {
    assert_true(is_loopback(p));
    assert_int_equal(coio_sockaddr_port(&p->addr), 80);
    assert_int_equal(p->socktype, COIO_SOCK_STREAM);
    if (p != ai)
      assert_null(p->canonname);
  }
  if (ai->canonname) /* the resolver may leave it out */
    assert_true(strlen(ai->canonname) > 0);
  print_message("localhost: %d address(es), canonical name %s\n", n,
                ai->canonname ? ai->canonname : "(none)");
  coio_future_unref(f);
  test_loop_free(loop);
}

static void passive_wildcard_for_a_service(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_addrinfo_t *ai;
  coio_future_t *f;
  char s[COIO_SOCKADDR_STRLEN];
  (void)state;
  memset(&h, 0, sizeof h);
  h.family = COIO_AF_INET;
  h.socktype = COIO_SOCK_STREAM;
  h.flags = COIO_AI_PASSIVE | COIO_AI_NUMERICSERV;
  assert_int_equal(resolve(loop, NULL, "9000", &h, &f, &ai), 0);
  assert_non_null(ai);
  assert_int_equal(coio_sockaddr_to_string(&ai->addr, s, sizeof s), 0);
  assert_string_equal(s, "0.0.0.0");
  assert_int_equal(coio_sockaddr_port(&ai->addr), 9000);
  coio_future_unref(f);
  test_loop_free(loop);
}

static void names_that_do_not_resolve_fail_with_a_code(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_addrinfo_t *ai;
  coio_future_t *f;
  double t0;
  int rc;
  (void)state;
  memset(&h, 0, sizeof h);
  /* A name where a number is required. */
  h.flags = COIO_AI_NUMERICHOST;
  assert_int_equal(resolve(loop, "localhost", "80", &h, &f, &ai), COIO_ENONAME);
  assert_null(ai);
  coio_future_unref(f);
  assert_int_equal(resolve(loop, "300.1.2.3", "80", &h, &f, &ai), COIO_ENONAME);
  coio_future_unref(f);
  assert_int_equal(resolve(loop, "not an address", NULL, &h, &f, &ai), COIO_ENONAME);
  coio_future_unref(f);
  /* A service that is not a number, with NUMERICSERV. */
  h.flags = COIO_AI_NUMERICHOST | COIO_AI_NUMERICSERV;
  assert_int_equal(resolve(loop, "127.0.0.1", "http-ish", &h, &f, &ai), COIO_ENONAME);
  coio_future_unref(f);
  /* A name that cannot exist (RFC 6761 .invalid): the resolver refuses it
   * (or, without a network, fails at once); it must not hang. */
  memset(&h, 0, sizeof h);
  t0 = coio_loop_time(loop);
  rc = resolve(loop, "no-such-host.invalid", "80", &h, &f, &ai);
  print_message("no-such-host.invalid: %s after %.3f s\n", coio_err_name(rc),
                coio_loop_time(loop) - t0);
  assert_true(rc == COIO_ENONAME || rc == COIO_EAGAIN);
  assert_non_null(coio_strerror(rc));
  coio_future_unref(f);
  test_loop_free(loop);
}

#define PARALLEL 8

static void many_lookups_at_once(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_future_t *f[PARALLEL], *all;
  char host[32], s[COIO_SOCKADDR_STRLEN];
  int i;
  (void)state;
  memset(&h, 0, sizeof h);
  h.socktype = COIO_SOCK_STREAM;
  h.flags = COIO_AI_NUMERICHOST;
  for (i = 0; i < PARALLEL; i++) {
    snprintf(host, sizeof host, "127.0.0.%d", i + 1);
    assert_int_equal(coio_getaddrinfo(loop, host, NULL, &h, &f[i]), 0);
  }
  assert_int_equal(coio_gather(loop, f, PARALLEL, 0, &all), 0);
  assert_int_equal(run_until_done(loop, all), 0);
  assert_int_equal(coio_future_result(all, NULL), 0);
  for (i = 0; i < PARALLEL; i++) {
    void *v;
    assert_int_equal(coio_future_result(f[i], &v), 0);
    assert_int_equal(coio_sockaddr_to_string(&((coio_addrinfo_t *)v)->addr, s, sizeof s), 0);
    snprintf(host, sizeof host, "127.0.0.%d", i + 1);
    assert_string_equal(s, host);
    coio_future_unref(f[i]);
  }
  coio_future_unref(all);
  test_loop_free(loop);
}

static void a_cancelled_lookup_leaks_nothing(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_future_t *f[4];
  int i;
  (void)state;
  /* Whether each lookup is still queued or already running, its future
   * ends cancelled and what the lookup allocated is freed (ASan). */
  for (i = 0; i < 4; i++) {
    assert_int_equal(coio_getaddrinfo(loop, "localhost", "80", NULL, &f[i]), 0);
    assert_int_equal(coio_future_cancel(f[i], NULL), 0);
    assert_true(coio_future_cancelled(f[i]));
  }
  for (i = 0; i < 4; i++)
    coio_future_unref(f[i]);
  test_loop_free(loop); /* joins the default executor */
}

/* In a task, the usual way. */
static int lookup_task(void *arg, void **result) {
  coio_loop_t *loop = arg;
  coio_addrinfo_hints_t h;
  coio_future_t *f;
  void *v;
  int rc, port = -1;
  memset(&h, 0, sizeof h);
  h.socktype = COIO_SOCK_STREAM;
  if ((rc = coio_getaddrinfo(loop, "127.0.0.1", "4433", &h, &f)) != 0)
    return rc;
  rc = coio_await(f);
  if (rc == 0 && (rc = coio_future_result(f, &v)) == 0)
    port = coio_sockaddr_port(&((coio_addrinfo_t *)v)->addr);
  coio_future_unref(f);
  *result = (void *)(intptr_t)port;
  return rc;
}

static void a_task_awaits_a_lookup(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_task_t *t;
  void *v;
  (void)state;
  assert_int_equal(coio_task_spawn(loop, lookup_task, loop, NULL, &t), 0);
  assert_int_equal(run_until_done(loop, t), 0);
  assert_int_equal(coio_future_result(t, &v), 0);
  assert_int_equal((intptr_t)v, 4433);
  coio_future_unref(t);
  test_loop_free(loop);
}

/* ---- getnameinfo ---------------------------------------------------------------- */

static int name_of(coio_loop_t *loop, const coio_sockaddr_t *sa, int flags, coio_future_t **f,
                   coio_nameinfo_t **ni) {
  void *v = NULL;
  int rc;
  assert_int_equal(coio_getnameinfo(loop, sa, flags, f), 0);
  assert_int_equal(run_until_done(loop, *f), 0);
  rc = coio_future_result(*f, &v);
  *ni = v;
  return rc;
}

static void getnameinfo_numeric_and_by_name(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_sockaddr_t sa;
  coio_future_t *f;
  coio_nameinfo_t *ni;
  (void)state;
  assert_int_equal(coio_sockaddr_from_string(&sa, "127.0.0.1", 8080), 0);
  assert_int_equal(name_of(loop, &sa, COIO_NI_NUMERICHOST | COIO_NI_NUMERICSERV, &f, &ni), 0);
  assert_string_equal(ni->host, "127.0.0.1");
  assert_string_equal(ni->service, "8080");
  coio_future_unref(f);
  assert_int_equal(coio_sockaddr_from_string(&sa, "::1", 443), 0);
  assert_int_equal(name_of(loop, &sa, COIO_NI_NUMERICHOST | COIO_NI_NUMERICSERV, &f, &ni), 0);
  assert_string_equal(ni->host, "::1");
  assert_string_equal(ni->service, "443");
  coio_future_unref(f);
  /* The loopback address has a name in the hosts file. */
  assert_int_equal(coio_sockaddr_from_string(&sa, "127.0.0.1", 80), 0);
  assert_int_equal(name_of(loop, &sa, COIO_NI_NUMERICSERV, &f, &ni), 0);
  print_message("127.0.0.1 is called %s\n", ni->host);
  assert_true(strlen(ni->host) > 0);
  assert_string_equal(ni->service, "80");
  coio_future_unref(f);
  test_loop_free(loop);
}

/* ---- socket address helpers ------------------------------------------------------ */

static void sockaddr_helpers_round_trip(void **state) {
  coio_sockaddr_t sa, empty;
  char s[COIO_SOCKADDR_STRLEN], tiny[4];
  (void)state;
  assert_int_equal(coio_sockaddr_from_string(&sa, "192.0.2.33", 1234), 0);
  assert_int_equal(coio_sockaddr_family(&sa), COIO_AF_INET);
  assert_int_equal(coio_sockaddr_port(&sa), 1234);
  assert_int_equal(coio_sockaddr_set_port(&sa, 65535), 0);
  assert_int_equal(coio_sockaddr_port(&sa), 65535);
  assert_int_equal(coio_sockaddr_to_string(&sa, s, sizeof s), 0);
  assert_string_equal(s, "192.0.2.33");
  assert_int_equal(coio_sockaddr_to_string(&sa, tiny, sizeof tiny), COIO_ERANGE);

  assert_int_equal(coio_sockaddr_from_string(&sa, "2001:db8::5", 0), 0);
  assert_int_equal(coio_sockaddr_family(&sa), COIO_AF_INET6);
  assert_int_equal(coio_sockaddr_port(&sa), 0);
  assert_int_equal(coio_sockaddr_to_string(&sa, s, sizeof s), 0);
  assert_string_equal(s, "2001:db8::5");

  /* Not numeric, out of range, NULL. */
  assert_int_equal(coio_sockaddr_from_string(&sa, "localhost", 80), COIO_EINVAL);
  assert_int_equal(sa.len, 0);
  assert_int_equal(coio_sockaddr_from_string(&sa, "1.2.3.4", 65536), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_from_string(&sa, "1.2.3.4", -1), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_from_string(&sa, "", 1), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_from_string(&sa, NULL, 1), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_from_string(NULL, "1.2.3.4", 1), COIO_EINVAL);

  memset(&empty, 0, sizeof empty);
  assert_int_equal(coio_sockaddr_family(&empty), COIO_AF_UNSPEC);
  assert_int_equal(coio_sockaddr_family(NULL), COIO_AF_UNSPEC);
  assert_int_equal(coio_sockaddr_port(&empty), COIO_EAFNOSUPPORT);
  assert_int_equal(coio_sockaddr_port(NULL), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_set_port(&empty, 1), COIO_EAFNOSUPPORT);
  assert_int_equal(coio_sockaddr_from_string(&sa, "127.0.0.1", 1), 0);
  assert_int_equal(coio_sockaddr_set_port(&sa, 70000), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_set_port(&sa, -5), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_to_string(&empty, s, sizeof s), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_to_string(&sa, NULL, 10), COIO_EINVAL);
  assert_int_equal(coio_sockaddr_to_string(&sa, s, 0), COIO_EINVAL);
  coio_addrinfo_free(NULL);
}

static void bad_input_gives_error_codes(void **state) {
  coio_loop_t *loop = test_loop_new();
  coio_addrinfo_hints_t h;
  coio_sockaddr_t sa, empty;
  coio_future_t *f = (coio_future_t *)&f;
  (void)state;
  memset(&h, 0, sizeof h);
  memset(&empty, 0, sizeof empty);
  assert_int_equal(coio_sockaddr_from_string(&sa, "127.0.0.1", 80), 0);
  assert_int_equal(coio_getaddrinfo(NULL, "localhost", "80", NULL, &f), COIO_EINVAL);
  assert_null(f);
  assert_int_equal(coio_getaddrinfo(loop, "localhost", "80", NULL, NULL), COIO_EINVAL);
  assert_int_equal(coio_getaddrinfo(loop, NULL, NULL, NULL, &f), COIO_EINVAL);
  h.family = 99;
  assert_int_equal(coio_getaddrinfo(loop, "localhost", NULL, &h, &f), COIO_EINVAL);
  h.family = 0;
  h.socktype = 42;
  assert_int_equal(coio_getaddrinfo(loop, "localhost", NULL, &h, &f), COIO_EINVAL);
  h.socktype = 0;
  h.protocol = 1000;
  assert_int_equal(coio_getaddrinfo(loop, "localhost", NULL, &h, &f), COIO_EINVAL);
  h.protocol = 0;
  h.flags = 0x4000;
  assert_int_equal(coio_getaddrinfo(loop, "localhost", NULL, &h, &f), COIO_EINVAL);
  assert_int_equal(coio_getnameinfo(NULL, &sa, 0, &f), COIO_EINVAL);
  assert_int_equal(coio_getnameinfo(loop, NULL, 0, &f), COIO_EINVAL);
  assert_int_equal(coio_getnameinfo(loop, &sa, 0, NULL), COIO_EINVAL);
  assert_int_equal(coio_getnameinfo(loop, &empty, 0, &f), COIO_EINVAL);
  assert_int_equal(coio_getnameinfo(loop, &sa, 0x1000, &f), COIO_EINVAL);
  empty.len = 16; /* an address of no family coio knows */
  assert_int_equal(coio_getnameinfo(loop, &empty, 0, &f), COIO_EAFNOSUPPORT);
  assert_int_equal(coio_loop_close(loop), 0);
  assert_int_equal(coio_getaddrinfo(loop, "localhost", "80", NULL, &f), COIO_ECLOSED);
  assert_int_equal(coio_getnameinfo(loop, &sa, 0, &f), COIO_ECLOSED);
  test_loop_free(loop);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(numeric_ipv4_with_a_port),
    cmocka_unit_test(numeric_ipv6),
    cmocka_unit_test(localhost_resolves_to_loopback),
    cmocka_unit_test(passive_wildcard_for_a_service),
    cmocka_unit_test(names_that_do_not_resolve_fail_with_a_code),
    cmocka_unit_test(many_lookups_at_once),
    cmocka_unit_test(a_cancelled_lookup_leaks_nothing),
    cmocka_unit_test(a_task_awaits_a_lookup),
    cmocka_unit_test(getnameinfo_numeric_and_by_name),
    cmocka_unit_test(sockaddr_helpers_round_trip),
    cmocka_unit_test(bad_input_gives_error_codes),
};

TEST_MAIN("dns", tests)
