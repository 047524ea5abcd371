// Loads the BUILT package the way Hermes (React Native) would see it: no
// TextDecoder, TextEncoder, EventTarget, Event, MessageEvent, window or
// document. Then connects, syncs a document with a second client, and runs a
// call. Usage: node cycle.mjs <ws-url> <esm|cjs>. Prints "ok" and exits 0.
import { createRequire } from 'node:module'
import WebSocket from 'ws' // the platform's socket, loaded before the globals go

const [url, format] = process.argv.slice(2)
const removed = ['TextDecoder', 'TextEncoder', 'EventTarget', 'Event', 'MessageEvent', 'window', 'document']
for (const name of removed) {
  delete globalThis[name]
  if (name in globalThis) throw new Error(`could not remove ${name}`)
}

const require = createRequire(import.meta.url)
const sdk = format === 'cjs' ? require('../../dist/index.cjs') : await import('../../dist/index.js')
const Y = format === 'cjs' ? require('yjs') : await import('yjs')

const fail = (msg) => {
  console.error(msg)
  process.exit(1)
}
const until = async (pred, what, ms = 10_000) => {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) fail(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const errors = []
const a = sdk.createClient({ url, WebSocket })
const b = sdk.createClient({ url, WebSocket })
a.on('error', (e) => errors.push(e))
b.on('error', (e) => errors.push(e))
const name = `hermes-${format}-${Date.now()}`
const da = a.doc(name)
const db = b.doc(name)
await Promise.all([da.ready, db.ready])
da.ydoc.getText('t').insert(0, 'hello from hermes')
await until(() => db.ydoc.getText('t').toString() === 'hello from hermes', 'the edit reaches the other client')
await until(() => da.sync.get().unacked === 0, 'the edit is acknowledged')
const err = await a.call('me.get').then(
  () => fail('me.get without a token succeeded'),
  (e) => e,
)
if (!(err instanceof sdk.GoOnlineError) || err.code !== 'unauthorized') fail(`unexpected call outcome ${err}`)
da.release()
db.release()
a.close()
b.close()
if (errors.length > 0) fail(`errors reported: ${errors.map(String).join('; ')}`)
if (!(Y.Doc && da.ydoc instanceof Y.Doc)) fail('the doc is not the app\'s Yjs')
console.log('ok')
process.exit(0)
