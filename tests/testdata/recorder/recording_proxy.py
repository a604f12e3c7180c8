"""A milter proxy that writes every frame it passes on, in the captures' format.

The MTA connects to LISTEN (a Unix socket); each connection is relayed to the filter at FILTER
and recorded into OUT_DIR/conn-N.txt (which appears when the connection has ended), one whole frame per line: "mta> HEX" for MTA-to-filter
frames, "<flt HEX" for filter-to-MTA frames, in the order the proxy forwarded them.
Usage: python3 recording_proxy.py LISTEN FILTER OUT_DIR
"""
import asyncio
import itertools
import os
import sys

LISTEN, FILTER, OUT_DIR = sys.argv[1:4]
counter = itertools.count(1)


async def pump(reader, writer, tag, log):
    while True:
        try:
            head = await reader.readexactly(4)
            length = int.from_bytes(head, "big")
            payload = await reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            break
        frame = head + payload
        log.write(f"{tag} {frame.hex()}\n")
        log.flush()
        writer.write(frame)
        try:
            await writer.drain()
        except ConnectionError:
            break
    try:
        writer.close()
    except Exception:
        pass


async def handle(mta_reader, mta_writer):
    number = next(counter)
    filter_reader, filter_writer = await asyncio.open_unix_connection(FILTER)
    final = os.path.join(OUT_DIR, f"conn-{number}.txt")
    # Written as .part and renamed once both sides have closed: a whole connection or nothing.
    with open(final + ".part", "w") as log:
        await asyncio.gather(
            pump(mta_reader, filter_writer, "mta>", log),
            pump(filter_reader, mta_writer, "<flt", log))
    os.rename(final + ".part", final)


async def main():
    server = await asyncio.start_unix_server(handle, path=LISTEN)
    os.chmod(LISTEN, 0o666)
    async with server:
        await server.serve_forever()


asyncio.run(main())
