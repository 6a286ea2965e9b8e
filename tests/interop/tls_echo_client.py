#!/usr/bin/env python3
"""tests/interop/tls_echo_client.py PORT CAFILE SIZE SEED: Python's asyncio
with its ssl module as the TLS client of a coio echo server (verifying the
certificate for "localhost" against CAFILE): sends SIZE random bytes
(seeded) in random pieces while reading the echo concurrently, then checks
the echo is byte-exact and closes (close_notify). Exit 0 on success."""
import asyncio
import random
import ssl
import sys


async def main(port, cafile, size, seed):
    rng = random.Random(seed)
    payload = rng.randbytes(size)
    ctx = ssl.create_default_context(cafile=cafile)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname="localhost")

    async def send():
        off = 0
        while off < size:
            n = rng.randint(1, 70000)
            writer.write(payload[off:off + n])
            off += n
            await writer.drain()

    async def recv():
        got = bytearray()
        while len(got) < size:
            data = await reader.read(65536)
            if not data:
                break
            got += data
        return bytes(got)

    _, echoed = await asyncio.wait_for(asyncio.gather(send(), recv()), timeout=60)
    writer.close()
    await asyncio.wait_for(writer.wait_closed(), timeout=30)
    if echoed != payload:
        print(f"mismatch: sent {size} bytes, got {len(echoed)}", file=sys.stderr)
        return 1
    print(f"echoed {size} bytes exactly over {writer.get_extra_info('ssl_object').version()}")
    return 0


sys.exit(asyncio.run(main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
