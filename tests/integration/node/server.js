// An independent WebSocket server (Node `ws` 8) for wspipe's interop tests.
//
// Prints `ws://127.0.0.1:PORT` once listening. Every connection echoes each
// message after setTimeout(MS), MS taken from the path `/late/MS`: a server that
// answers asynchronously, as Node servers do, and cannot send once it has read
// the client's Close.
const { WebSocketServer } = require("ws");

const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
server.on("listening", () => {
  console.log(`ws://127.0.0.1:${server.address().port}`);
});
server.on("connection", (ws, request) => {
  const match = /^\/late\/(\d+)/.exec(request.url);
  const delay = match ? Number(match[1]) : 0;
  ws.on("message", (data, isBinary) => {
    setTimeout(() => ws.send(data, { binary: isBinary }), delay);
  });
});
