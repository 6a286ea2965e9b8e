/* coio/stream.h - streams (asyncio's StreamReader and StreamWriter,
 * open_connection and start_server): sequential byte I/O for tasks, built on
 * the transports of transport.h, the same on every backend.
 *
 * Reading. A reader buffers what the transport delivers. When more than
 * twice its limit is buffered it pauses reading from the transport, and it
 * resumes once a read brings the buffer back to the limit or below (or a
 * read needs more data than is buffered), so memory stays bounded by the
 * limit plus one transport read. Read calls copy into a buffer the caller
 * passes (no allocation per call); only coio_stream_read_all allocates.
 *
 * Blocking: the read calls, drain and wait_closed are (task) calls: they
 * suspend the calling task while they wait (outside a task they still
 * succeed when they need not wait, and return COIO_ENOTASK when they
 * would). One task at a time may wait in a reader (else COIO_EBUSY).
 *
 * Errors (asyncio's exceptions): after the connection was lost with an
 * error, every read call returns that error at once (as asyncio raises the
 * reader's exception), buffered data notwithstanding. COIO_EINCOMPLETE is
 * asyncio's IncompleteReadError, COIO_ELIMIT its LimitOverrunError (and
 * readline's ValueError).
 *
 * Cancellation: a read call consumes bytes only when it returns them; a
 * call interrupted while waiting (COIO_ECANCELED: its task was cancelled,
 * or a timeout scope expired) consumed nothing, so the next call sees the
 * same bytes. drain and wait_closed change nothing when interrupted.
 *
 * Ownership: a reader and its writer are one object. open_connection's
 * caller owns it: close the writer (and, optionally, wait_closed), then
 * coio_stream_writer_free, which frees the reader too. free may be called
 * at any time after the tasks using the stream stopped: an open
 * connection is closed (its buffer still flushed) and the memory released
 * once the transport is gone. A server handler's reader and writer belong
 * to the server: they are valid until the handler returns, after which the
 * writer is closed and both are freed; the handler never frees them.
 *
 * TLS: a TLS context in opts->connect / opts->server (coio/tls.h), and
 * coio_stream_start_tls to upgrade a stream in place. */
#ifndef COIO_STREAM_H
#define COIO_STREAM_H

#include "task.h"
#include "transport.h"

COIO_BEGIN_DECLS

typedef struct coio_stream_reader coio_stream_reader_t;
typedef struct coio_stream_writer coio_stream_writer_t;

/* The default reader limit, as asyncio's (64 KiB). */
#define COIO_STREAM_DEFAULT_LIMIT (64u * 1024u)

/* Options for open_connection and start_server. A NULL pointer or a zeroed
 * struct gives the defaults. */
typedef struct coio_stream_options {
  size_t limit;                          /* the reader limit; 0: 64 KiB */
  const coio_connect_options_t *connect; /* open_connection: may be NULL */
  const coio_server_options_t *server;   /* start_server: may be NULL */
  void *reserved[4];                     /* must be NULL */
} coio_stream_options_t;

/* A client task of start_server: runs once per connection with its reader
 * and writer (owned by the server, see above) and the data given to
 * coio_start_server. Its return value is the task's status; a failing
 * handler has its connection closed like any other. */
typedef int (*coio_stream_handler_t)(coio_stream_reader_t *reader, coio_stream_writer_t *writer,
                                     void *data);

/* ---- making streams ------------------------------------------------------ */

/* (task) asyncio.open_connection: connects to host:port (see
 * coio_create_connection; opts->connect applies) and sets *reader and
 * *writer. 0 or the connection's error (nothing to free then);
 * COIO_ECANCELED if the task was cancelled (an attempt under way is
 * stopped, a connection already made is closed). */
COIO_API int coio_open_connection(const char *host, int port, const coio_stream_options_t *opts,
                                  coio_stream_reader_t **reader, coio_stream_writer_t **writer);

/* (task) open_connection(sock=): streams over an already connected stream
 * socket, which the transport takes over on success. On an error the
 * socket stays the caller's, except after COIO_ECANCELED, when a transport
 * may already have taken it (and closes it). */
COIO_API int coio_open_connection_sock(coio_socket_t sock, const coio_stream_options_t *opts,
                                       coio_stream_reader_t **reader,
                                       coio_stream_writer_t **writer);

/* asyncio.start_server: listens on host:port (see coio_create_server;
 * opts->server applies) and runs handler(reader, writer, data) as a new
 * task for each client. Works inside or outside tasks: the future's value
 * is the coio_server_t * (the caller closes and frees it as usual;
 * coio_server_close_clients reaches the streams' transports). */
COIO_API int coio_start_server(coio_loop_t *loop, coio_stream_handler_t handler, void *data,
                               const char *host, int port, const coio_stream_options_t *opts,
                               coio_future_t **out);

/* (task) open_unix_connection: streams to the Unix socket at path ('@name'
 * for an abstract name; see coio_create_unix_connection). Linux; elsewhere
 * COIO_EAFNOSUPPORT / COIO_ENOTSUP. */
COIO_API int coio_open_unix_connection(const char *path, const coio_stream_options_t *opts,
                                       coio_stream_reader_t **reader,
                                       coio_stream_writer_t **writer);

/* start_unix_server: as coio_start_server, listening on the Unix socket at
 * path (see coio_create_unix_server). */
COIO_API int coio_start_unix_server(coio_loop_t *loop, coio_stream_handler_t handler, void *data,
                                    const char *path, const coio_stream_options_t *opts,
                                    coio_future_t **out);

/* ---- reading --------------------------------------------------------------- */

/* (task) read(n): waits until at least one byte is buffered or EOF, then
 * copies up to n bytes into buf. Returns the count, 0 at EOF (or for
 * n == 0), or an error. */
COIO_API long coio_stream_read(coio_stream_reader_t *r, void *buf, size_t n);

/* (task) read(-1): waits for EOF and returns everything up to it in *data
 * (malloc'd, NUL-terminated for convenience, not counted in *len; free it
 * with coio_stream_data_free). 0 or an error (nothing consumed then). */
COIO_API int coio_stream_read_all(coio_stream_reader_t *r, void **data, size_t *len);
/* Frees what coio_stream_read_all returned (NULL is a no-op). */
COIO_API void coio_stream_data_free(void *data);

/* (task) readexactly(n): waits until n bytes are buffered and copies them.
 * 0 with *nread = n; at EOF with fewer, COIO_EINCOMPLETE with the partial
 * bytes in buf, their count in *nread, and consumed (asyncio's
 * IncompleteReadError.partial). nread may be NULL. */
COIO_API int coio_stream_readexactly(coio_stream_reader_t *r, void *buf, size_t n,
                                     size_t *nread);

/* (task) readuntil(separator): waits until sep is buffered and copies the
 * data up to and including it. 0 with *nread its length. At EOF without the
 * separator: COIO_EINCOMPLETE, the rest of the stream copied and consumed
 * (*nread bytes, possibly 0). COIO_ELIMIT when the separator is not found
 * within the limit (asyncio's LimitOverrunError): nothing is consumed and
 * *nread is the error's `consumed` (bytes that can be skipped).
 * COIO_ERANGE when the chunk does not fit in size bytes: nothing consumed,
 * *nread the size needed (size >= limit + seplen never gets it).
 * COIO_EINVAL for an empty separator. */
COIO_API int coio_stream_readuntil(coio_stream_reader_t *r, const void *sep, size_t seplen,
                                   void *buf, size_t size, size_t *nread);

/* (task) readuntil((sep1, sep2, ...)): as readuntil with the first of
 * several separators to end in the stream (the match ending first; asyncio
 * 3.13). nseps >= 1, each at least one byte. */
COIO_API int coio_stream_readuntil_any(coio_stream_reader_t *r, const coio_buf_t *seps,
                                       size_t nseps, void *buf, size_t size, size_t *nread);

/* (task) readline(): a line up to and including "\n", or the rest of the
 * stream at EOF (0 at EOF). Returns the length. COIO_ELIMIT when the line
 * is longer than the limit: like asyncio (ValueError), the line is
 * discarded through its "\n" if it is buffered, else the whole buffer is.
 * COIO_ERANGE when the line does not fit in size bytes (nothing consumed;
 * size >= limit + 1 never gets it). */
COIO_API long coio_stream_readline(coio_stream_reader_t *r, void *buf, size_t size);

/* 1 when EOF was received and the buffer is empty (asyncio at_eof). */
COIO_API int coio_stream_at_eof(const coio_stream_reader_t *r);
/* Bytes buffered now (read without waiting). */
COIO_API size_t coio_stream_buffered(const coio_stream_reader_t *r);
/* The limit (see the top of this file). limit > 0 else COIO_EINVAL. */
COIO_API int coio_stream_set_limit(coio_stream_reader_t *r, size_t limit);
COIO_API size_t coio_stream_get_limit(const coio_stream_reader_t *r);
/* The error the connection was lost with, or 0 (asyncio exception()). */
COIO_API int coio_stream_reader_error(const coio_stream_reader_t *r);

/* ---- writing ------------------------------------------------------------------ */

/* Queues data (copied) without waiting; see coio_transport_write. Follow
 * with coio_stream_drain to respect the flow control. COIO_ECLOSED once the
 * writer is closing or the connection is gone. */
COIO_API int coio_stream_write(coio_stream_writer_t *w, const void *data, size_t len);
COIO_API int coio_stream_writelines(coio_stream_writer_t *w, const coio_buf_t *bufs, size_t n);
/* Closes the write side once the buffer is flushed. */
COIO_API int coio_stream_write_eof(coio_stream_writer_t *w);
COIO_API int coio_stream_can_write_eof(const coio_stream_writer_t *w); /* 1 or 0 */

/* (task) drain: returns at once while the transport's write buffer is at or
 * below its high-water mark, else waits until it is back to the low one.
 * Returns 0; the reader's error if the connection was lost with one;
 * COIO_ECONNRESET if the connection is gone (also when it goes while
 * waiting); COIO_ECANCELED. Several tasks may drain at once. */
COIO_API int coio_stream_drain(coio_stream_writer_t *w);

/* Closes the transport (flushing what is queued first). Idempotent. */
COIO_API int coio_stream_close(coio_stream_writer_t *w);
/* 1 once closing (close called, or the connection is gone). */
COIO_API int coio_stream_is_closing(const coio_stream_writer_t *w);
/* (task) Waits until the connection is gone. 0, or the error it was lost
 * with; COIO_ECANCELED. */
COIO_API int coio_stream_wait_closed(coio_stream_writer_t *w);
/* Frees the stream (writer and reader; see Ownership above). NULL: no-op. */
COIO_API void coio_stream_writer_free(coio_stream_writer_t *w);

/* get_extra_info: the peer's and the local address, the socket. COIO_ECLOSED
 * (COIO_INVALID_SOCKET) once the connection is gone. */
COIO_API int coio_stream_peername(const coio_stream_writer_t *w, coio_sockaddr_t *addr);
COIO_API int coio_stream_sockname(const coio_stream_writer_t *w, coio_sockaddr_t *addr);
COIO_API coio_socket_t coio_stream_socket(const coio_stream_writer_t *w);
/* The transport (NULL once the connection is gone), e.g. to set the write
 * buffer limits; do not replace its protocol. */
COIO_API coio_transport_t *coio_stream_transport(const coio_stream_writer_t *w);
/* The reader of the same connection. */
COIO_API coio_stream_reader_t *coio_stream_writer_reader(const coio_stream_writer_t *w);

COIO_END_DECLS

#endif /* COIO_STREAM_H */
