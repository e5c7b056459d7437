"""An independent WebSocket server (Python `websockets`) for wspipe's interop tests.

Prints `ws://127.0.0.1:PORT` once listening. Paths: /echo echoes every message
(text as text, binary as binary); /close4001 sends "bye" then closes with 4001;
/proto answers with the subprotocol it negotiated.
"""

import asyncio
import sys

import websockets


async def handler(ws):
    path = ws.request.path
    if path == "/close4001":
        await ws.send("bye")
        await ws.close(4001, "policy")
        return
    if path == "/proto":
        await ws.send(f"protocol={ws.subprotocol}")
    async for message in ws:
        await ws.send(message)


async def main():
    def select_subprotocol(connection, offered):
        # Offered chat.v1: take it; offered nothing: no subprotocol (not an error).
        return "chat.v1" if "chat.v1" in offered else None

    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        select_subprotocol=select_subprotocol,
        max_size=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
