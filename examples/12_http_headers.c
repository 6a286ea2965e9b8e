/* Example 12 (seed): print the headers of an HTTP response.
 *   12_http_headers URL
 * URL: http://host[:port][/path] or https://host[:port][/path] (port 80 /
 * 443 by default, path "/"; an IPv6 address in brackets). Opens a
 * connection with streams (open_connection; TLS for https, checking the
 * server's certificate for host against the system's trust store, or the
 * CA file named by SSL_CERT_FILE), sends
 *   HEAD <path> HTTP/1.0\r\nHost: <host>\r\n\r\n
 * and prints each response header line as "HTTP header> <line>" until the
 * empty line that ends them. Errors (a bad URL, a failed connection, a
 * certificate the trust store does not vouch for, a response that ends
 * early) are printed to stderr with the reason, and the exit status is 1
 * (2 for a bad command line or URL). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

typedef struct url {
  int tls;        /* https */
  char host[256]; /* without the brackets of an IPv6 address */
  int ipv6;       /* host is an IPv6 address (the Host header needs brackets) */
  int port;
  char path[2048]; /* the request target: path and query */
} url_t;

static int ci_prefix(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++)
    if (tolower((unsigned char)*s) != *prefix)
      return 0;
  return 1;
}

/* Parses s into u; on failure returns 0 with the reason in err. */
static int parse_url(const char *s, url_t *u, const char **err) {
  const char *p, *end, *host_end;
  size_t n;
  memset(u, 0, sizeof *u);
  if (ci_prefix(s, "https://")) {
    u->tls = 1;
    u->port = 443;
    p = s + 8;
  } else if (ci_prefix(s, "http://")) {
    u->port = 80;
    p = s + 7;
  } else {
    *err = "the URL must start with http:// or https://";
    return 0;
  }
  for (end = p; *end && *end != '/' && *end != '?' && *end != '#'; end++) {
    if (*end == '@') {
      *err = "user names in URLs are not supported";
      return 0;
    }
  }
  if (*p == '[') { /* [IPv6] */
    if (!(host_end = memchr(p, ']', (size_t)(end - p)))) {
      *err = "missing ']' after the IPv6 address";
      return 0;
    }
    p++;
    u->ipv6 = 1;
  } else {
    host_end = memchr(p, ':', (size_t)(end - p));
    if (!host_end)
      host_end = end;
  }
  n = (size_t)(host_end - p);
  if (n == 0 || n >= sizeof u->host) {
    *err = n ? "the host name is too long" : "the URL has no host";
    return 0;
  }
  memcpy(u->host, p, n);
  for (p = u->host; *p; p++) {
    if ((unsigned char)*p <= ' ' || *p == '%' || *p == '"' || *p == '\\' || *p == 0x7f) {
      *err = "the host name has characters that cannot be sent";
      return 0;
    }
  }
  p = host_end + (u->ipv6 ? 1 : 0); /* after the host (and its ']') */
  if (p < end) {
    long port = 0;
    if (*p != ':' || p + 1 == end) {
      *err = u->ipv6 ? "expected ':port' after the IPv6 address" : "missing port after ':'";
      return 0;
    }
    for (p++; p < end; p++) {
      if (!isdigit((unsigned char)*p) || (port = port * 10 + (*p - '0')) > 65535) {
        *err = "the port must be a number from 1 to 65535";
        return 0;
      }
    }
    if (port == 0) {
      *err = "the port must be a number from 1 to 65535";
      return 0;
    }
    u->port = (int)port;
  }
  /* The request target: the path and query, without a fragment. */
  n = strcspn(end, "#");
  if (n + 2 > sizeof u->path) {
    *err = "the path is too long";
    return 0;
  }
  if (*end != '/')
    u->path[0] = '/';
  memcpy(u->path + strlen(u->path), end, n);
  for (p = u->path; *p; p++) {
    if ((unsigned char)*p <= ' ' || *p == 0x7f) { /* no spaces or line breaks in a request line */
      *err = "the path has spaces or control characters (percent-encode them)";
      return 0;
    }
  }
  return 1;
}

/* The task that talks HTTP. Errors carry a message (coio_task_error), read
 * by main_task from this task's future. */
static int fetch(void *arg, void **result) {
  const url_t *u = arg;
  coio_tls_context_t *tls = NULL;
  coio_connect_options_t copts;
  coio_stream_options_t sopts;
  coio_stream_reader_t *reader;
  coio_stream_writer_t *writer;
  char request[2600], line[8192];
  int rc, n, ended = 0;
  (void)result;

  memset(&copts, 0, sizeof copts);
  memset(&sopts, 0, sizeof sopts);
  if (u->tls) {
    /* A client context: the system's trust store (SSL_CERT_FILE when set),
     * certificate and host name checked. */
    if ((rc = coio_tls_context_new(COIO_TLS_CLIENT, 0, &tls)) != 0)
      return coio_task_error(rc, rc == COIO_ENOTSUP ? "this build of coio has no TLS"
                                                    : "cannot make a TLS context");
    copts.tls = tls;
    copts.server_hostname = u->host;
    copts.tls_shutdown_timeout = 5.0; /* do not wait long for the server's close_notify */
  }
  sopts.connect = &copts;
  rc = coio_open_connection(u->host, u->port, &sopts, &reader, &writer);
  if (tls)
    coio_tls_context_unref(tls); /* the connection holds its own reference */
  if (rc != 0)
    return rc; /* with open_connection's message, if it gave one */

  if (u->ipv6)
    n = snprintf(request, sizeof request, "HEAD %s HTTP/1.0\r\nHost: [%s]", u->path, u->host);
  else
    n = snprintf(request, sizeof request, "HEAD %s HTTP/1.0\r\nHost: %s", u->path, u->host);
  if (u->port != (u->tls ? 443 : 80)) /* RFC 9110: the port when not the scheme's default */
    n += snprintf(request + n, sizeof request - (size_t)n, ":%d", u->port);
  n += snprintf(request + n, sizeof request - (size_t)n, "\r\n\r\n");
  rc = coio_stream_write(writer, request, (size_t)n);
  if (rc == 0)
    rc = coio_stream_drain(writer);

  while (rc == 0) {
    long len = coio_stream_readline(reader, line, sizeof line);
    if (len < 0) {
      rc = coio_task_error((int)len, len == COIO_ERANGE || len == COIO_ELIMIT
                                         ? "a response header line is too long"
                                         : "reading the response failed");
      break;
    }
    if (len == 0 || line[len - 1] != '\n') { /* EOF (a line cut short: EOF after it) */
      rc = coio_task_error(COIO_EINCOMPLETE, "the server closed the connection before the "
                                             "end of the response headers");
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      len--;
    if (len == 0) { /* the empty line: the end of the headers */
      ended = 1;
      break;
    }
    printf("HTTP header> %.*s\n", (int)len, line);
  }
  fflush(stdout);
  /* Done either way: close (TLS: close_notify) and let the connection go.
   * What closing reports is not this program's business: many servers cut
   * TLS connections without close_notify. */
  coio_stream_close(writer);
  coio_stream_wait_closed(writer);
  coio_stream_writer_free(writer);
  return ended ? 0 : rc;
}

static int main_task(void *arg, void **result) {
  const url_t *u = arg;
  coio_task_t *task;
  const char *msg;
  int rc;
  (void)result;
  rc = coio_task_spawn(coio_future_loop(coio_task_current()), fetch, arg, NULL, &task);
  if (rc != 0) {
    fprintf(stderr, "error: cannot start a task: %s\n", coio_strerror(rc));
    return rc;
  }
  rc = coio_await(task);
  if (rc != 0) {
    msg = coio_future_message(task);
    fprintf(stderr, "error: %s://%s%s%s:%d: %s (%s)%s%s\n", u->tls ? "https" : "http",
            u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "", u->port, coio_strerror(rc),
            coio_err_name(rc), msg && *msg ? ": " : "", msg && *msg ? msg : "");
  }
  coio_future_unref(task);
  return rc;
}

int main(int argc, char **argv) {
  url_t u;
  const char *err = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: %s URL   (http://host[:port][/path] or https://...)\n", argv[0]);
    return 2;
  }
  if (!parse_url(argv[1], &u, &err)) {
    fprintf(stderr, "error: bad URL '%s': %s\n", argv[1], err);
    return 2;
  }
  /* coio_run makes a loop of the default kind (COIO_BACKEND picks another) */
  return coio_run(main_task, &u, NULL, NULL) == 0 ? 0 : 1;
}
