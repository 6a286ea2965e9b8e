/* common/process_posix.c - spawning and exit watching (see process_internal.h).
 * WORK IN PROGRESS: every entry answers COIO_ENOTSUP until issue 8 lands. */
#include "coio/error.h"
#include "process_internal.h"

int coio__proc_spawn(coio_loop_t *loop, const coio__spawn_args_t *args,
                     coio__proc_exited_cb exited, void *arg, coio__proc_t **proc,
                     coio_pid_t *pid, coio_pipe_t parent[3]) {
  (void)loop, (void)args, (void)exited, (void)arg, (void)proc, (void)pid, (void)parent;
  return COIO_ENOTSUP;
}

int coio__proc_send_signal(coio__proc_t *p, int sig) {
  (void)p, (void)sig;
  return COIO_ENOTSUP;
}

int coio__proc_kill_tree(coio__proc_t *p) {
  (void)p;
  return COIO_ENOTSUP;
}

void coio__proc_release(coio__proc_t *p) { (void)p; }

void coio__proc_loop_close(coio_loop_t *loop) { (void)loop; }
