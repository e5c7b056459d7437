"""An independent WebSocket server (Python `websockets`) for wspipe's interop tests.

Prints `ws://127.0.0.1:PORT` once listening. Paths: /echo echoes every message
(text as text, binary as binary); /close4001 sends "bye" then closes with 4001;
/proto answers with the subprotocol it negotiated; /late/MS echoes each message
after awaiting MS milliseconds (0: one turn of the event loop), the way real
handlers reply after awaiting something, so a Close read meanwhile ends replies;
/push-late/MS/N waits MS milliseconds, sends N messages `late-I`, reads N messages
back and closes with 1000 and the reason "echoed K" (K: how many came back equal).

With `--tls CERT KEY CA` it serves wss:// and requires a client certificate issued
by CA (OpenSSL's TLS 1.3: the refusal comes after the client's handshake is done).
"""

import asyncio
import ssl
import sys

import websockets


async def handler(ws):
    path = ws.request.path
    if path == "/close4001":
        await ws.send("bye")
        await ws.close(4001, "policy")
        return
    if path.startswith("/late/"):
        delay = int(path.removeprefix("/late/")) / 1000
        async for message in ws:
            await asyncio.sleep(delay)
            await ws.send(message)
        return
    if path.startswith("/push-late/"):
        delay, count = (int(part) for part in path.split("/")[2:4])
        await asyncio.sleep(delay / 1000)
        sent = [f"late-{i}" for i in range(count)]
        for message in sent:
            await ws.send(message)
        back = [await ws.recv() for _ in sent]
        same = sum(1 for a, b in zip(sent, back) if a == b)
        await ws.close(1000, f"echoed {same}")
        return
    if path == "/proto":
        await ws.send(f"protocol={ws.subprotocol}")
    async for message in ws:
        await ws.send(message)


async def main():
    def select_subprotocol(connection, offered):
        # Offered chat.v1: take it; offered nothing: no subprotocol (not an error).
        return "chat.v1" if "chat.v1" in offered else None

    context = None
    if sys.argv[1:2] == ["--tls"]:
        cert, key, ca = sys.argv[2:5]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(ca)
        context.verify_mode = ssl.CERT_REQUIRED
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        select_subprotocol=select_subprotocol,
        max_size=None,
        ssl=context,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        scheme = "wss" if context else "ws"
        print(f"{scheme}://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
