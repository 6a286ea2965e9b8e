/* common/loop.c - loop lifecycle and the run loop (asyncio's _run_once).
 *
 * One iteration: compute how long the backend may block (0 if callbacks are
 * ready or a stop is pending, else until the next timer), poll the backend
 * (which queues I/O callbacks), take the calls other threads queued, move due
 * timers to the ready ring, then run exactly the callbacks that were ready at
 * that point; what they schedule runs in the next iteration. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coio/error.h"
#include "coio/future.h"
#include "loop_internal.h"
#include "process_internal.h"

#define COIO__DEFAULT_SLOW_NS 100000000ull /* 0.1 s, as asyncio */

/* ---- choosing a backend ------------------------------------------------- */

static const coio__backend_t *find_backend(const char *name) {
  size_t i;
  for (i = 0; coio__backends[i]; i++)
    if (strcmp(coio__backends[i]->name, name) == 0)
      return coio__backends[i];
  return NULL;
}

size_t coio_backend_list(const char **names, size_t max) {
  size_t i;
  for (i = 0; coio__backends[i]; i++)
    if (names && i < max)
      names[i] = coio__backends[i]->name;
  return i;
}

int coio_backend_probe(const char *name) {
  const coio__backend_t *b;
  int rc;
  if (!name)
    return COIO_EINVAL;
  if ((rc = coio__os_init()) != 0)
    return rc;
  b = find_backend(name);
  if (!b)
    return COIO_EINVAL;
  return b->probe();
}

static coio_loop_kind_t platform_default_kind(void) {
#ifdef _WIN32
  return COIO_LOOP_PROACTOR; /* IOCP is the primary Windows loop */
#else
  return COIO_LOOP_SELECTOR;
#endif
}

/* Parses COIO_BACKEND: a backend name or a kind name. */
static int apply_env(coio_loop_kind_t *kind, const char **name) {
  const char *env = getenv("COIO_BACKEND");
  if (!env || !*env)
    return 0;
  if (strcmp(env, "default") == 0) {
    *kind = COIO_LOOP_DEFAULT;
    *name = NULL;
  } else if (strcmp(env, "selector") == 0) {
    *kind = COIO_LOOP_SELECTOR;
    *name = NULL;
  } else if (strcmp(env, "proactor") == 0) {
    *kind = COIO_LOOP_PROACTOR;
    *name = NULL;
  } else {
    *kind = COIO_LOOP_DEFAULT;
    *name = env;
  }
  return 0;
}

/* Opens the first backend that fits. By name: that one or an error. By
 * kind: the first of that kind that can run. Default: the platform's default
 * kind, then any other backend that can run (io_uring blocked -> epoll). */
static int open_backend(coio_loop_t *loop, coio_loop_kind_t kind, const char *name) {
  int rc = COIO_ENOBACKEND, pass;
  size_t i;
  if (name) {
    const coio__backend_t *b = find_backend(name);
    if (!b)
      return COIO_EINVAL;
    if ((rc = b->probe()) != 0)
      return rc;
    if ((rc = b->open(loop, &loop->bstate)) != 0)
      return rc;
    loop->backend = b;
    return 0;
  }
  for (pass = 0; pass < 2; pass++) {
    coio_loop_kind_t want = kind == COIO_LOOP_DEFAULT ? platform_default_kind() : kind;
    for (i = 0; coio__backends[i]; i++) {
      const coio__backend_t *b = coio__backends[i];
      if (pass == 0 ? b->kind != want : b->kind == want)
        continue;
      if (b->probe() != 0 || b->open(loop, &loop->bstate) != 0)
        continue;
      loop->backend = b;
      return 0;
    }
    if (kind != COIO_LOOP_DEFAULT)
      break; /* a kind asked for explicitly does not fall back */
  }
  return rc;
}

int coio_loop_new(coio_loop_t **out, const coio_loop_options_t *opts) {
  coio_loop_t *loop;
  coio_loop_kind_t kind = opts ? opts->kind : COIO_LOOP_DEFAULT;
  const char *name = opts ? opts->backend : NULL;
  const char *dbg = getenv("COIO_DEBUG");
  int rc;

  if (!out)
    return COIO_EINVAL;
  *out = NULL;
  if (kind != COIO_LOOP_DEFAULT && kind != COIO_LOOP_SELECTOR && kind != COIO_LOOP_PROACTOR)
    return COIO_EINVAL;
  if (opts && (!(opts->slow_callback_duration >= 0) || isinf(opts->slow_callback_duration)))
    return COIO_EINVAL;
  if (opts && opts->task_stack_size > ((size_t)1 << 30))
    return COIO_EINVAL;
  apply_env(&kind, &name);
  if ((rc = coio__os_init()) != 0)
    return rc;

  loop = calloc(1, sizeof *loop);
  if (!loop)
    return COIO_ENOMEM;
  loop->free_head = COIO__NO_SLOT;
  coio__atomic_store(&loop->running, 0);
  coio__atomic_store(&loop->tsafe_closed, 0);
  coio__atomic_store(&loop->tsafe_pending, 0);
  coio__mutex_init(&loop->tsafe_lock);
  loop->debug = (opts && opts->debug) || (dbg && *dbg && strcmp(dbg, "0") != 0);
  loop->slow_ns = opts && opts->slow_callback_duration > 0
                      ? coio__seconds_to_ns(opts->slow_callback_duration)
                      : COIO__DEFAULT_SLOW_NS;
  loop->task_stack_size = opts ? opts->task_stack_size : 0;
  if ((rc = open_backend(loop, kind, name)) != 0) {
    coio__mutex_destroy(&loop->tsafe_lock);
    free(loop);
    return rc;
  }
  *out = loop;
  return 0;
}

int coio_loop_close(coio_loop_t *loop) {
  if (!loop)
    return COIO_EINVAL;
  if (coio__atomic_load(&loop->running))
    return COIO_EBUSY;
  if (loop->closed)
    return 0;
  /* First, while the loop still works: the process-wide signal table must
   * not keep naming this loop, and removing a handler unwatches its fd. */
  coio__signal_loop_close(loop);
  loop->closed = 1;
  /* From now on other threads get COIO_ECLOSED; what they queued is dropped. */
  coio__mutex_lock(&loop->tsafe_lock);
  coio__atomic_store(&loop->tsafe_closed, 1);
  free(loop->tsafe);
  loop->tsafe = NULL;
  loop->tsafe_len = loop->tsafe_cap = 0;
  coio__mutex_unlock(&loop->tsafe_lock);
  coio__executor_loop_close(loop);
  coio__proc_loop_close(loop);
  coio__tasks_close(loop);
  coio__cb_free_all(loop);
  loop->backend->close(loop->bstate);
  loop->bstate = NULL;
  coio__io_free_all(loop);
  return 0;
}

int coio_loop_free(coio_loop_t *loop) {
  int rc;
  if (!loop)
    return 0;
  if ((rc = coio_loop_close(loop)) != 0)
    return rc;
  coio__mutex_destroy(&loop->tsafe_lock);
  free(loop);
  return 0;
}

/* ---- call_soon_threadsafe ------------------------------------------------ */

int coio_call_soon_threadsafe(coio_loop_t *loop, coio_callback_t cb, void *user_data) {
  int rc = 0;
  if (!loop || !cb)
    return COIO_EINVAL;
  coio__mutex_lock(&loop->tsafe_lock);
  if (coio__atomic_load(&loop->tsafe_closed)) {
    rc = COIO_ECLOSED;
  } else if (loop->tsafe_len == loop->tsafe_cap) {
    size_t ncap = loop->tsafe_cap ? loop->tsafe_cap * 2 : 16;
    coio__tsafe_call_t *n = realloc(loop->tsafe, ncap * sizeof *n);
    if (!n)
      rc = COIO_ENOMEM;
    else {
      loop->tsafe = n;
      loop->tsafe_cap = ncap;
    }
  }
  if (rc == 0) {
    loop->tsafe[loop->tsafe_len].fn = cb;
    loop->tsafe[loop->tsafe_len].arg = user_data;
    loop->tsafe_len++;
  }
  /* The backend pointer is stable until close, and close marks the loop
   * closed under this lock first, so waking here is safe. */
  if (rc == 0 && coio__atomic_exchange(&loop->tsafe_pending, 1) == 0)
    loop->backend->wake(loop->bstate);
  coio__mutex_unlock(&loop->tsafe_lock);
  return rc;
}

/* Moves what other threads queued into the ready ring, in their order. If
 * memory runs out, what was not moved stays queued for the next iteration. */
static void take_threadsafe_calls(coio_loop_t *loop) {
  size_t i;
  if (!coio__atomic_exchange(&loop->tsafe_pending, 0))
    return;
  coio__mutex_lock(&loop->tsafe_lock);
  for (i = 0; i < loop->tsafe_len; i++)
    if (coio__cb_schedule(loop, loop->tsafe[i].fn, loop->tsafe[i].arg, NULL, NULL) != 0)
      break;
  if (i < loop->tsafe_len) {
    memmove(loop->tsafe, loop->tsafe + i, (loop->tsafe_len - i) * sizeof *loop->tsafe);
    coio__atomic_store(&loop->tsafe_pending, 1);
  }
  loop->tsafe_len -= i;
  coio__mutex_unlock(&loop->tsafe_lock);
}

/* ---- running ------------------------------------------------------------- */

/* While callbacks are ready, an iteration asks the backend for events (a
 * poll with timeout 0: a system call) only once this many callbacks ran
 * since the last poll, and reads the clock only when it polls or a timer
 * is pending. Busy iterations (task switches through the loop, chains of
 * call_soon) then cost no system call each, and I/O waits at most this many
 * callbacks. Measured on the 2-core VM: the epoll_wait(0) of every
 * iteration was 35% of a task spawn + join and half of a sleep(0) round
 * trip, and a clock read another 15%. */
#define COIO__BUSY_POLL_CALLBACKS 16

static int run_once(coio_loop_t *loop) {
  int64_t timeout;
  int rc, have_now = 0;
  uint64_t now = 0;
  size_t n;

  if (loop->ready_len == 0 || loop->stopping ||
      loop->ran_since_poll >= COIO__BUSY_POLL_CALLBACKS) {
    now = coio__now_ns();
    if (loop->ready_len > 0 || loop->stopping || coio__atomic_load(&loop->tsafe_pending))
      timeout = 0;
    else
      timeout = coio__timers_next(loop, now);
    if ((rc = loop->backend->poll(loop->bstate, timeout)) != 0)
      return rc;
    /* A poll that may have blocked moved the clock; one that returned at
     * once did not (much): timers are never early either way. */
    if (timeout != 0)
      now = coio__now_ns();
    have_now = 1;
    loop->ran_since_poll = 0;
  }
  take_threadsafe_calls(loop);
  if (loop->heap_len > 0)
    coio__timers_expire(loop, have_now ? now : coio__now_ns());
  n = loop->ready_len;
  loop->ran_since_poll += n;
  coio__ready_run(loop, n);
  return 0;
}

int coio_loop_run_forever(coio_loop_t *loop) {
  int rc = 0;
  if (!loop)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (coio__atomic_exchange(&loop->running, 1))
    return COIO_EBUSY;
  for (;;) {
    if ((rc = run_once(loop)) != 0)
      break;
    if (loop->stopping)
      break;
  }
  loop->stopping = 0;
  coio__atomic_store(&loop->running, 0);
  return rc;
}

static void stop_on_done(coio_future_t *fut, void *arg) {
  (void)arg;
  coio_loop_stop(coio_future_loop(fut));
}

int coio_loop_run_until_complete(coio_loop_t *loop, coio_future_t *fut) {
  int rc;
  if (!loop || !fut)
    return COIO_EINVAL;
  if (coio_future_loop(fut) != loop)
    return COIO_EINVAL;
  if (loop->closed)
    return COIO_ECLOSED;
  if (coio__atomic_load(&loop->running))
    return COIO_EBUSY;
  coio_future_ref(fut);
  if ((rc = coio_future_add_done_callback(fut, stop_on_done, NULL)) != 0) {
    coio_future_unref(fut);
    return rc;
  }
  rc = coio_loop_run_forever(loop);
  coio_future_remove_done_callback(fut, stop_on_done, NULL);
  if (rc == 0)
    rc = coio_future_done(fut) ? coio_future_result(fut, NULL) : COIO_ESTOPPED;
  coio_future_unref(fut);
  return rc;
}

int coio_loop_stop(coio_loop_t *loop) {
  if (!loop)
    return COIO_EINVAL;
  loop->stopping = 1;
  return 0;
}

int coio_loop_is_running(const coio_loop_t *loop) {
  return loop ? coio__atomic_load((coio__atomic_int *)&loop->running) : 0;
}

int coio_loop_is_closed(const coio_loop_t *loop) { return loop ? loop->closed : 1; }

const char *coio_loop_backend(const coio_loop_t *loop) {
  return loop && loop->backend ? loop->backend->name : "";
}

coio_loop_kind_t coio_loop_kind(const coio_loop_t *loop) {
  return loop && loop->backend ? loop->backend->kind : COIO_LOOP_DEFAULT;
}

double coio_loop_time(const coio_loop_t *loop) {
  (void)loop;
  return (double)coio__now_ns() / 1e9;
}

/* ---- debug mode ------------------------------------------------------------ */

int coio_loop_set_debug(coio_loop_t *loop, int enabled) {
  if (!loop)
    return COIO_EINVAL;
  loop->debug = enabled != 0;
  return 0;
}

int coio_loop_get_debug(const coio_loop_t *loop) { return loop ? loop->debug : 0; }

int coio_loop_set_slow_callback_duration(coio_loop_t *loop, double seconds) {
  if (!loop || !(seconds > 0) || isinf(seconds))
    return COIO_EINVAL;
  loop->slow_ns = coio__seconds_to_ns(seconds);
  return 0;
}

int coio_loop_set_warning_handler(coio_loop_t *loop, coio_warning_handler_t handler,
                                  void *user_data) {
  if (!loop)
    return COIO_EINVAL;
  loop->warn = handler;
  loop->warn_arg = user_data;
  return 0;
}

void coio__loop_warn(coio_loop_t *loop, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (loop->warn)
    loop->warn(loop, msg, loop->warn_arg);
  else
    fprintf(stderr, "%s\n", msg);
}

const coio__backend_t *coio__loop_backend_table(const coio_loop_t *loop) { return loop->backend; }

void *coio__loop_backend_state(const coio_loop_t *loop) { return loop->bstate; }
