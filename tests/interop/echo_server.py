#!/usr/bin/env python3
"""tests/interop/echo_server.py: Python's own asyncio as the peer of coio's
interop tests. Serves on 127.0.0.1, port 0; prints the port, then echoes
every byte of each connection back until the client half-closes, then
half-closes too. Exits after one connection (bounded by a timeout)."""
import asyncio
import sys


async def main():
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
            writer.write_eof()
            await writer.drain()
        finally:
            writer.close()
            if not done.done():
                done.set_result(None)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await asyncio.wait_for(done, timeout=60)


asyncio.run(main())
