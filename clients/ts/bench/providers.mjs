// The SDK against the unmodified Yjs providers (@hocuspocus/provider,
// y-websocket) on the same goonline server, in the same run:
//   open    — open N documents and finish their first sync
//   durable — one writer makes E single-character edits; time until the server
//             acknowledged all of them as durable (y-websocket has no such signal:
//             not measured for it)
//   deliver — the same edits; time until a second client of the same kind has all
// Usage: node bench/providers.mjs <goonline ws base url> [runs]
// Prints one JSON line per measurement and a markdown table (median of runs).
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'
import { createClient } from '../dist/index.js'

const base = process.argv[2]
const runs = Number(process.argv[3] ?? 3)
const DOCS = Number(process.env.BENCH_DOCS ?? 200)
const EDITS = Number(process.env.BENCH_EDITS ?? 2000)
let counter = 0
const name = (k) => `bench-${k}-${process.pid}-${++counter}`
const until = async (pred, what, ms = Number(process.env.BENCH_TIMEOUT_MS ?? 20_000)) => {
  const end = Date.now() + ms
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await new Promise((r) => setTimeout(r, 1))
  }
}

const kinds = {
  sdk: {
    async open(names) {
      const client = createClient({ url: base, WebSocket })
      const handles = names.map((n) => client.doc(n))
      await Promise.all(handles.map((h) => h.ready))
      return { docs: handles.map((h) => h.ydoc), durable: () => handles.every((h) => h.sync.get().unacked === 0), close: () => client.close() }
    },
  },
  hocuspocus: {
    async open(names) {
      const socket = new HocuspocusProviderWebsocket({ url: `${base}/hocuspocus`, WebSocketPolyfill: WebSocket })
      const providers = names.map((n) => {
        const p = new HocuspocusProvider({ name: n, document: new Y.Doc(), token: '', websocketProvider: socket })
        p.attach()
        return p
      })
      await until(() => providers.every((p) => p.isSynced), 'hocuspocus synced')
      return {
        docs: providers.map((p) => p.document),
        durable: () => providers.every((p) => p.unsyncedChanges === 0),
        close: () => {
          providers.forEach((p) => p.destroy())
          socket.destroy()
        },
      }
    },
  },
  'y-websocket': {
    async open(names) {
      const providers = names.map((n) => new WebsocketProvider(`${base}/y`, n, new Y.Doc(), { WebSocketPolyfill: WebSocket, disableBc: true }))
      await until(() => providers.every((p) => p.synced), 'y-websocket synced')
      return { docs: providers.map((p) => p.doc), durable: null, close: () => providers.forEach((p) => p.destroy()) }
    },
  },
}

const results = []
const record = (kind, metric, ms) => {
  const r = { kind, metric, ms: Math.round(ms * 10) / 10 }
  results.push(r)
  console.log(JSON.stringify(r))
}

for (let run = 0; run < runs; run++) {
  for (const [kind, k] of Object.entries(kinds)) {
    // open: DOCS documents on one client.
    const names = Array.from({ length: DOCS }, () => name('open'))
    let t = performance.now()
    const opened = await k.open(names)
    record(kind, `open ${DOCS} docs`, performance.now() - t)
    opened.close()

    // durable and deliver: EDITS edits in one document, a reader watching.
    const doc = name('edits')
    const writer = await k.open([doc])
    const reader = await k.open([doc])
    const text = writer.docs[0].getText('t')
    const seen = reader.docs[0].getText('t')
    t = performance.now()
    for (let i = 0; i < EDITS; i++) text.insert(text.length, 'x')
    const sent = performance.now()
    const both = [
      until(() => seen.length === EDITS, 'delivered').then(() => record(kind, `deliver ${EDITS} edits`, performance.now() - t)),
    ]
    if (writer.durable) {
      both.push(until(() => writer.durable(), 'durable').then(() => record(kind, `durable ${EDITS} edits`, performance.now() - t)))
    }
    try {
      await Promise.all(both)
    } catch (e) {
      // Recorded, not fatal: one stuck peer must not hide the other results.
      console.log(JSON.stringify({ kind, metric: `${EDITS} edits`, error: String(e.message ?? e) }))
    }
    void sent
    writer.close()
    reader.close()
    await new Promise((r) => setTimeout(r, 200))
  }
}

// The table: medians, and each peer's time over the SDK's.
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const metrics = [...new Set(results.map((r) => r.metric))]
console.log(`\n| measurement (median of ${runs}) | @goonline/client | @hocuspocus/provider | y-websocket |`)
console.log('|---|---|---|---|')
for (const m of metrics) {
  const cell = (kind) => {
    const xs = results.filter((r) => r.kind === kind && r.metric === m).map((r) => r.ms)
    if (xs.length === 0) return 'n/a'
    const sdk = median(results.filter((r) => r.kind === 'sdk' && r.metric === m).map((r) => r.ms))
    const v = median(xs)
    return kind === 'sdk' ? `${v.toFixed(0)} ms` : `${v.toFixed(0)} ms (×${(v / sdk).toFixed(2)})`
  }
  console.log(`| ${m} | ${cell('sdk')} | ${cell('hocuspocus')} | ${cell('y-websocket')} |`)
}
process.exit(0)
