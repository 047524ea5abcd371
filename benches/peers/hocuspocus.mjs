// Hocuspocus (@hocuspocus/server, pinned in package.json) as a benchmark peer
// for benches/compare.sh.
//
//   node benches/peers/hocuspocus.mjs [PORT]      (or PORT=... in the env)
//
// Listens on 127.0.0.1:PORT (0 or nothing = an ephemeral port) and prints
// `listening on http://127.0.0.1:PORT` with the real port once it accepts
// connections. No extensions (documents live in memory only), no start screen.
// Clients speak the Hocuspocus protocol on the root path: ws://127.0.0.1:PORT.
// Exits at once on SIGTERM/SIGINT.
import { Server } from '@hocuspocus/server'

const parsePort = (value) => {
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`hocuspocus.mjs: bad port ${JSON.stringify(value)}`)
    process.exit(2)
  }
  return port
}
const port = parsePort(process.argv[2] ?? process.env.PORT ?? '0')

const server = new Server({
  name: 'bench',
  address: '127.0.0.1',
  port,
  quiet: true,
  extensions: [],
  // Hocuspocus closes a socket that has sent nothing for `timeout` ms (60 s by
  // default); benchmark readers stay silent for longer than that. The value
  // feeds setInterval, so it must stay below 2^31 ms or Node clamps it to 1 ms:
  // one day is far past any run.
  timeout: 24 * 60 * 60 * 1000,
  // Our own handlers below exit at once; Hocuspocus's would first wait for every
  // document to unload.
  stopOnSignals: false,
})

const stop = () => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

await server.listen()
process.stdout.write(`listening on http://127.0.0.1:${server.address.port}\n`)
