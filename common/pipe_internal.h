/* common/pipe_internal.h - what the pipe and Unix-socket transports share
 * (common/pipe_transport.c, common/unix_socket.c, proactor/named_pipe.c). */
#ifndef COIO_COMMON_PIPE_INTERNAL_H
#define COIO_COMMON_PIPE_INTERNAL_H

#include "coio/task.h"
#include "transport_internal.h"

/* (task) Makes a stream transport for fd with the extra COIO__T_* flags
 * (COIO__T_PIPE...), waits until connection_made ran and stores the
 * transport in *result. On failure fd is still the caller's. */
int coio__adopt_stream(coio_loop_t *loop, coio_socket_t fd, unsigned flags,
                       const coio_protocol_t *proto, void *user_data, void **result);

/* Spawns fn(req) as a task (the caller's future); free_req(req) runs when
 * the task ends, even when it is cancelled before its first step. On
 * failure req is freed already. */
int coio__spawn_req(coio_loop_t *loop, coio_task_fn fn, void *req, void (*free_req)(void *),
                    coio_future_t **out);

/* The protocol has what a stream transport needs: 0 or COIO_EINVAL. */
int coio__check_stream_protocol(const coio_protocol_t *p);

#endif
