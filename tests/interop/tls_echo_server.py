#!/usr/bin/env python3
"""tests/interop/tls_echo_server.py CERT KEY: Python's asyncio with its ssl
module as the TLS server of coio's TLS tests. Serves on 127.0.0.1, port 0;
prints the port, then echoes every byte of one connection back until the
client closes (close_notify), then closes too. Exits after that connection
(bounded by a timeout)."""
import asyncio
import ssl
import sys


async def main(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
            if not done.done():
                done.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.wait_for(done, timeout=60)


asyncio.run(main(sys.argv[1], sys.argv[2]))
