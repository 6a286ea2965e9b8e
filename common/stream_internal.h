/* common/stream_internal.h - the stream reader's state and the entry points
 * that feed it, so its buffer logic can be driven without sockets (tests,
 * the fuzz target tests/fuzz/fuzz_stream_reader.c).
 *
 * A reader made with coio__stream_reader_init and a NULL loop never waits:
 * a read call that would have to wait returns COIO_EAGAIN having consumed
 * nothing (the same guarantee a cancelled wait gives). */
#ifndef COIO_COMMON_STREAM_INTERNAL_H
#define COIO_COMMON_STREAM_INTERNAL_H

#include "coio/stream.h"

struct coio_stream_reader {
  coio_loop_t *loop;           /* NULL: never waits (COIO_EAGAIN) */
  coio_transport_t *transport; /* to pause / resume; NULL when gone */
  unsigned char *buf;          /* buffered bytes are buf[start, end) */
  size_t start, end, cap;
  size_t limit;
  int eof, error, paused;
  coio_future_t *waiter; /* the one task waiting for data */
};

void coio__stream_reader_init(coio_stream_reader_t *r, coio_loop_t *loop, size_t limit);
void coio__stream_reader_fini(coio_stream_reader_t *r);
/* asyncio's feed_data / feed_eof / set_exception. feed returns COIO_ENOMEM
 * when the buffer cannot grow (nothing is appended then). */
int coio__stream_reader_feed(coio_stream_reader_t *r, const void *data, size_t n);
void coio__stream_reader_feed_eof(coio_stream_reader_t *r);
void coio__stream_reader_set_error(coio_stream_reader_t *r, int error);

/* A stream for callers in common/ that make its transport themselves (the
 * Process API's pipes): give *proto and *ud to the transport-making call
 * (coio_connect_read_pipe...). The stream is freed with
 * coio_stream_writer_free, also when that call failed. While a transport
 * may still be made for it (the call succeeded, connection_made has not
 * run), pass the call's future to coio__stream_connecting, so that an early
 * free waits for it. */
int coio__stream_make(coio_loop_t *loop, size_t limit, const coio_protocol_t **proto, void **ud,
                      coio_stream_writer_t **w);
int coio__stream_connecting(coio_stream_writer_t *w, coio_future_t *f);

#endif
