#!/usr/bin/env python3
"""tests/interop/echo_client.py PORT SIZE SEED: Python's asyncio as the
client of coio's echo server: sends SIZE random bytes (seeded) in random
pieces while reading the echo concurrently, half-closes, then checks the
echo is byte-exact and the server closed. Exit 0 on success."""
import asyncio
import random
import sys


async def main(port, size, seed):
    rng = random.Random(seed)
    payload = rng.randbytes(size)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def send():
        off = 0
        while off < size:
            n = rng.randint(1, 70000)
            writer.write(payload[off:off + n])
            off += n
            await writer.drain()
        writer.write_eof()

    async def recv():
        got = bytearray()
        while True:
            data = await reader.read(65536)
            if not data:
                return bytes(got)
            got += data

    _, echoed = await asyncio.wait_for(asyncio.gather(send(), recv()), timeout=60)
    writer.close()
    if echoed != payload:
        print(f"mismatch: sent {size} bytes, got {len(echoed)}", file=sys.stderr)
        return 1
    print(f"echoed {size} bytes exactly")
    return 0


sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
