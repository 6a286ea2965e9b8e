#!/usr/bin/env python3
"""examples/run_pair.py SERVER CLIENT [RUNNER]: runs a seed example's server
and client as a pair, the way a person would in two terminals. Starts the
server with port 0 and one client to serve, reads the port it printed
("Serving on (..., PORT)"), runs the client against it, waits for the
server to end, prints both outputs (server first, each line prefixed), and
exits non-zero on any failure. Every wait is bounded."""
import re
import subprocess
import sys

server, client = sys.argv[1], sys.argv[2]
runner = sys.argv[3:] if len(sys.argv) > 3 else []
srv = subprocess.Popen(runner + [server, "0", "1"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
first = srv.stdout.readline()
if first.startswith("Starting"):  # example 9 announces itself first
    first += srv.stdout.readline()
m = re.search(r"Serving on \(.*, (\d+)\)", first)
if not m:
    srv.kill()
    print("server did not start: " + first + srv.stdout.read())
    sys.exit(1)
cli = subprocess.run(runner + [client, m.group(1)], capture_output=True, text=True, timeout=60)
try:
    rest, _ = srv.communicate(timeout=60)
except subprocess.TimeoutExpired:
    srv.kill()
    rest, _ = srv.communicate()
    print("server did not end after its client")
    sys.exit(1)
for line in (first + rest).replace("\r", "").splitlines():
    print("server: " + line)
for line in (cli.stdout + cli.stderr).replace("\r", "").splitlines():
    print("client: " + line)
sys.exit(0 if srv.returncode == 0 and cli.returncode == 0 else 1)
