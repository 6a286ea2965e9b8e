#!/usr/bin/env python3
"""tests/bench/echo_asyncio_tls.py - Python asyncio's TLS echo server (a
Protocol whose data_received writes the bytes back, over asyncio's sslproto),
the reference the issue names for coio's TLS echo cost.
  echo_asyncio_tls.py --port 0 --port-file F --cert PEM --key PEM [--cpu C]"""
import argparse
import asyncio
import os
import socket
import ssl


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.t.write(data)


async def main(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Echo, "127.0.0.1", a.port, ssl=ctx, backlog=4096)
    port = srv.sockets[0].getsockname()[1]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.rename(tmp, a.port_file)
    await srv.serve_forever()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--cpu", type=int, default=-1)
    a = p.parse_args()
    if a.cpu >= 0:
        os.sched_setaffinity(0, {a.cpu})
    asyncio.run(main(a))
