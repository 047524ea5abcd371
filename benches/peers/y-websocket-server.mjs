// @y/websocket-server (pinned in package.json) as a benchmark peer for
// benches/compare.sh: its `setupWSConnection` on a `ws` WebSocketServer
// attached to a plain HTTP server, the same wiring as the package's own
// `y-websocket-server` binary but on an address and port we choose.
//
//   node benches/peers/y-websocket-server.mjs [PORT]   (or PORT=... in the env)
//
// Listens on 127.0.0.1:PORT (0 or nothing = an ephemeral port) and prints
// `listening on http://127.0.0.1:PORT` with the real port once it accepts
// connections. The document name is the URL path: ws://127.0.0.1:PORT/{doc}.
// Documents live in memory only. Exits at once on SIGTERM/SIGINT.
import http from 'node:http'
import { WebSocketServer } from 'ws'

const parsePort = (value) => {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`y-websocket-server.mjs: bad port ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return port
}
const port = parsePort(process.argv[2] ?? process.env.PORT ?? '0')

// utils.js reads these when it is first loaded: YPERSISTENCE turns on LevelDB
// persistence and CALLBACK_URL an HTTP callback on every change. Neither belongs
// in the benchmark, so clear them before importing it.
delete process.env.YPERSISTENCE
delete process.env.CALLBACK_URL
const { setupWSConnection, setPersistence } = await import('@y/websocket-server/utils')
setPersistence(null)

const wss = new WebSocketServer({ noServer: true })
wss.on('connection', setupWSConnection)

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => {
    wss.emit('connection', ws, request)
  })
})

const stop = () => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`)
})
