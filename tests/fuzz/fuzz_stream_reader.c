/* tests/fuzz/fuzz_stream_reader.c - libFuzzer target for the stream
 * reader's buffer logic (common/stream.c), without sockets: the input is a
 * program of feeds (random chunkings), EOF and read calls (read,
 * readexactly, readline, readuntil with one to three random separators,
 * random caller buffer sizes, a random limit), run against the reader
 * (through common/stream_internal.h, with no loop: a call that would wait
 * returns COIO_EAGAIN) and against a naive reference model of asyncio's
 * StreamReader. Every result code, every returned byte and the buffered
 * bytes must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/stream_internal.h"
#include "coio/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct model {
  unsigned char buf[1 << 16];
  size_t len;
  int eof;
  size_t limit;
} model_t;

static void m_consume(model_t *m, size_t n) {
  memmove(m->buf, m->buf + n, m->len - n);
  m->len -= n;
}

static int m_starts(const model_t *m, size_t at, const coio_buf_t *s) {
  return at + s->len <= m->len && memcmp(m->buf + at, s->base, s->len) == 0;
}

/* asyncio readuntil with all the data present (no waiting): the result code
 * and *end (chunk end, or LimitOverrunError.consumed). Consumes nothing. */
static int m_until(const model_t *m, const coio_buf_t *seps, size_t nseps, size_t *end) {
  size_t minlen = 99, maxlen = 0, i, at, best_end = 0, best_start = 0, off;
  int found = 0;
  for (i = 0; i < nseps; i++) {
    if (seps[i].len < minlen)
      minlen = seps[i].len;
    if (seps[i].len > maxlen)
      maxlen = seps[i].len;
  }
  if (m->len >= minlen) {
    for (i = 0; i < nseps; i++)
      for (at = 0; at < m->len; at++)
        if (m_starts(m, at, &seps[i])) {
          if (!found || at + seps[i].len < best_end) {
            found = 1;
            best_end = at + seps[i].len;
            best_start = at;
          }
          break;
        }
    if (found) {
      if (best_start > m->limit) {
        *end = best_start;
        return COIO_ELIMIT;
      }
      *end = best_end;
      return 0;
    }
    off = m->len + 1 > maxlen ? m->len + 1 - maxlen : 0;
    if (off > m->limit) {
      *end = off;
      return COIO_ELIMIT;
    }
  }
  return m->eof ? COIO_EINCOMPLETE : COIO_EAGAIN;
}

#define CHECK(c)                                                                                 \
  do {                                                                                           \
    if (!(c))                                                                                    \
      abort();                                                                                   \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const unsigned char alphabet[4] = {'a', 'b', '\n', 'c'};
  static model_t m;
  coio_stream_reader_t r;
  unsigned char sepbytes[3][3], out[256], chunk[32];
  coio_buf_t seps[3];
  size_t nseps, i, pos = 0, n;
  if (size < 5)
    return 0;
  memset(&m, 0, sizeof m);
  m.limit = 1 + data[pos++] % 48;
  nseps = 1 + data[pos++] % 3;
  for (i = 0; i < nseps; i++) {
    size_t k, len = 1 + data[pos++ % size] % 3;
    for (k = 0; k < len; k++)
      sepbytes[i][k] = alphabet[data[pos++ % size] % 4];
    seps[i].base = sepbytes[i];
    seps[i].len = len;
  }
  coio__stream_reader_init(&r, NULL, m.limit);
  while (pos + 1 < size) {
    uint8_t cmd = data[pos++], arg = data[pos++];
    size_t bufsize = 1 + arg % sizeof out;
    switch (cmd % 8) {
    case 0:
    case 1:
    case 2: /* feed a chunk of 0..31 bytes */
      n = arg % 32;
      if (m.eof || m.len + n > sizeof m.buf)
        break;
      for (i = 0; i < n; i++)
        chunk[i] = alphabet[data[(pos + i) % size] % 4];
      CHECK(coio__stream_reader_feed(&r, chunk, n) == 0);
      memcpy(m.buf + m.len, chunk, n);
      m.len += n;
      break;
    case 3: { /* read(n) */
      long k = coio_stream_read(&r, out, 1 + arg % 40);
      if (m.len == 0 && !m.eof) {
        CHECK(k == COIO_EAGAIN);
      } else {
        size_t want = m.len < 1u + arg % 40 ? m.len : 1u + arg % 40;
        CHECK(k == (long)want && memcmp(out, m.buf, want) == 0);
        m_consume(&m, want);
      }
      break;
    }
    case 4: { /* readexactly(n) */
      size_t want = arg % 40, got = 999;
      int rc = coio_stream_readexactly(&r, out, want, &got);
      if (m.len >= want) {
        CHECK(rc == 0 && got == want && memcmp(out, m.buf, want) == 0);
        m_consume(&m, want);
      } else if (m.eof) {
        CHECK(rc == COIO_EINCOMPLETE && got == m.len && memcmp(out, m.buf, m.len) == 0);
        m_consume(&m, m.len);
      } else {
        CHECK(rc == COIO_EAGAIN);
      }
      break;
    }
    case 5: { /* readuntil((seps...)) */
      size_t end = 0, got = 999;
      int want = m_until(&m, seps, nseps, &end);
      int rc = coio_stream_readuntil_any(&r, seps, nseps, out, bufsize, &got);
      if (want == 0 || want == COIO_EINCOMPLETE) {
        size_t k = want == 0 ? end : m.len;
        if (k > bufsize) {
          CHECK(rc == COIO_ERANGE && got == k);
        } else {
          CHECK(rc == want && got == k && memcmp(out, m.buf, k) == 0);
          m_consume(&m, k);
        }
      } else if (want == COIO_ELIMIT) {
        CHECK(rc == COIO_ELIMIT && got == end);
        /* asyncio leaves the data; skip one byte to make progress */
        CHECK(coio_stream_read(&r, out, 1) == 1 && out[0] == m.buf[0]);
        m_consume(&m, 1);
      } else {
        CHECK(rc == COIO_EAGAIN);
      }
      break;
    }
    case 6: { /* readline() */
      coio_buf_t nl;
      size_t end = 0;
      int want;
      long k;
      nl.base = "\n";
      nl.len = 1;
      want = m_until(&m, &nl, 1, &end);
      k = coio_stream_readline(&r, out, bufsize);
      if (want == 0 || want == COIO_EINCOMPLETE) {
        size_t len = want == 0 ? end : m.len;
        if (len > bufsize) {
          CHECK(k == COIO_ERANGE);
        } else {
          CHECK(k == (long)len && memcmp(out, m.buf, len) == 0);
          m_consume(&m, len);
        }
      } else if (want == COIO_ELIMIT) {
        CHECK(k == COIO_ELIMIT);
        if (end < m.len && m.buf[end] == '\n')
          m_consume(&m, end + 1);
        else
          m_consume(&m, m.len);
      } else {
        CHECK(k == COIO_EAGAIN);
      }
      break;
    }
    default:
      if (arg % 4 == 0) { /* EOF, sometimes */
        coio__stream_reader_feed_eof(&r);
        m.eof = 1;
      } else if (arg % 4 == 1) { /* a new limit */
        m.limit = 1 + arg % 48;
        CHECK(coio_stream_set_limit(&r, m.limit) == 0);
      }
      break;
    }
    CHECK(coio_stream_buffered(&r) == m.len);
    CHECK(coio_stream_at_eof(&r) == (m.eof && m.len == 0));
  }
  coio__stream_reader_fini(&r);
  return 0;
}
