#!/usr/bin/env python3
"""examples/http_pair.py MODE CLIENT [RUNNER...]: runs example 12 (CLIENT,
through RUNNER, e.g. wine, when given) against local servers only, never the
internet.

It makes a throwaway CA and a server certificate for localhost and
127.0.0.1 with the openssl command (in a fresh folder under the current
directory, the build tree, removed at the end), starts an HTTP server and an
HTTPS server (python's http.server, the HTTPS one with ssl.SSLContext) on
free ports of 127.0.0.1 in threads, runs the client, and prints each run's
output and exit status, every line prefixed with the run's name, for the
test's regular expression. MODE:
  ok        http://127.0.0.1:PORT/, https://localhost:PORT/a/b?c=d and
            https://127.0.0.1:PORT/ (the certificate names both) with
            SSL_CERT_FILE=<the CA>: headers expected
  untrusted https://localhost:PORT/ without SSL_CERT_FILE / SSL_CERT_DIR
            (the system trust store, which does not know the CA): a
            certificate error expected; then a bad URL (usage error)
The servers answer HEAD with 200, a Server header, and the request's path
and Host header echoed as X-Request-Path / X-Request-Host. Every wait is
bounded; exit status 77 (skipped) when there is no openssl command."""
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading

mode, client = sys.argv[1], sys.argv[2]
runner = sys.argv[3:]
wine = bool(runner) and os.path.basename(runner[0]).startswith("wine")


class Handler(http.server.BaseHTTPRequestHandler):
    def version_string(self):
        return "coio-example-12"

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("X-Request-Path", self.path)
        self.send_header("X-Request-Host", self.headers.get("Host", "(none)"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class TLSServer(http.server.ThreadingHTTPServer):
    """Handshakes in the handler's thread (not in accept), so a client that
    rejects the certificate cannot stall the server."""
    daemon_threads = True
    context = None

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        return (self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False),
                addr)

    def handle_error(self, request, client_address):
        pass  # the untrusted case: the client aborts the handshake


def sh(*args):
    subprocess.run(args, check=True, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.pem"))
    ext = os.path.join(d, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    sh("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
       "-subj", "/CN=coio example 12 throwaway CA",
       "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    sh("openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-out", crt,
       "-days", "2", "-set_serial", "0x" + os.urandom(8).hex(), "-extfile", ext)
    return ca, crt, key


def run(name, url, ca):
    env = dict(os.environ)
    env.pop("SSL_CERT_FILE", None)
    env.pop("SSL_CERT_DIR", None)
    if wine:
        env.setdefault("WINEDEBUG", "-all")  # else Wine's own warnings join the output
    if ca:
        # Wine resolves a Unix path on drive Z:, the root of the Unix tree.
        env["SSL_CERT_FILE"] = "Z:" + ca.replace("/", "\\") if wine else ca
    try:
        p = subprocess.run(runner + [client, url], capture_output=True, text=True, timeout=60,
                           env=env)
        out, status = p.stdout + p.stderr, str(p.returncode)
    except subprocess.TimeoutExpired as e:
        out, status = (e.stdout or b"").decode(errors="replace"), "timed out"
    for line in out.replace("\r", "").splitlines():
        print(name + ": " + line)
    print(name + ": exit " + status)


def main():
    if not shutil.which("openssl"):
        print("no openssl command (apt-get install openssl): skipped")
        return 77
    d = tempfile.mkdtemp(prefix="http_pair_", dir=os.getcwd())
    servers = []
    try:
        ca, crt, key = make_certs(d)
        plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        plain.daemon_threads = True
        tls = TLSServer(("127.0.0.1", 0), Handler)
        tls.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.context.load_cert_chain(crt, key)
        for s in (plain, tls):
            servers.append(s)
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                             daemon=True).start()
        port, tls_port = plain.server_address[1], tls.server_address[1]
        if mode == "ok":
            run("http", "http://127.0.0.1:%d/" % port, ca)
            run("https", "https://localhost:%d/a/b?c=d" % tls_port, ca)
            run("https-ip", "https://127.0.0.1:%d/" % tls_port, ca)
        else:
            run("https-untrusted", "https://localhost:%d/" % tls_port, None)
            run("bad-url", "ftp://localhost/", None)
        return 0
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()
        shutil.rmtree(d, ignore_errors=True)


sys.exit(main())
