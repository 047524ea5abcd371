// Test harness: runs the real `goonline` binary and connects unmodified npm Yjs clients to it.
//
// Environment:
//   GOONLINE_BIN            path to the server binary (default ../../target/debug/goonline,
//                           relative to clients/ts; a relative value is resolved against the cwd)
//   INTEROP_STARTUP_MS      how long to wait for the "listening on" line (default 20000)
//   INTEROP_TARGET_URL_YWS  manual validation only: use an already running server instead of
//   INTEROP_TARGET_URL_HOCUS  spawning goonline (y-websocket base URL, Hocuspocus URL). Tests
//                           that need one server for both dialects or a restart are skipped.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider'

export { Y, WebSocket, sleep }

const here = path.dirname(fileURLToPath(import.meta.url))
const pkgRoot = path.resolve(here, '..') // clients/ts

export const GOONLINE_BIN = process.env.GOONLINE_BIN
  ? path.resolve(process.cwd(), process.env.GOONLINE_BIN)
  : path.resolve(pkgRoot, '../../target/debug/goonline')

export const EXTERNAL = Boolean(process.env.INTEROP_TARGET_URL_YWS || process.env.INTEROP_TARGET_URL_HOCUS)
export const STARTUP_MS = Number(process.env.INTEROP_STARTUP_MS || 20000)
const STOP_MS = 10000
const LISTEN_RE = /^listening on http:\/\/(127\.0\.0\.1):(\d+)\s*$/

// ---------------------------------------------------------------------------------------------
// waiting

/**
 * Poll `predicate` (sync or async) until it returns truthy; return that value.
 * On timeout throw an Error naming `what`, plus `detail()` (current values) if given.
 */
export async function waitFor (predicate, { timeout = 5000, interval = 20, what = 'condition', detail } = {}) {
  const deadline = Date.now() + timeout
  let lastError
  for (;;) {
    try {
      const v = await predicate()
      if (v) return v
      lastError = undefined
    } catch (e) {
      lastError = e
    }
    if (Date.now() >= deadline) {
      let msg = `timed out after ${timeout} ms waiting for ${what}`
      if (detail) {
        try { msg += `\n  current: ${detail()}` } catch (e) { msg += `\n  (detail failed: ${e})` }
      }
      if (lastError) msg += `\n  last predicate error: ${lastError.stack || lastError}`
      throw new Error(msg)
    }
    await sleep(interval)
  }
}

/** Wait `ms` and check `predicate` stays truthy the whole time (polling). */
export async function holdsFor (predicate, ms, { interval = 100, what = 'condition', detail } = {}) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!(await predicate())) {
      throw new Error(`${what} stopped holding` + (detail ? `\n  current: ${detail()}` : ''))
    }
    await sleep(interval)
  }
}

/** Resolve with `promise`'s value, or with `onTimeout` after `ms` (the timer is cleared either way). */
export async function within (promise, ms, onTimeout = null) {
  let timer
  const t = new Promise((resolve) => { timer = setTimeout(() => resolve(onTimeout), ms) })
  try {
    return await Promise.race([promise, t])
  } finally {
    clearTimeout(timer)
  }
}

let nameCounter = 0
/** A fresh document name, unique across runs and tests: `${prefix}-<pid>-<time>-<n>-<rand>`. */
export function uniqueName (prefix = 'doc') {
  nameCounter += 1
  const rand = Math.random().toString(36).slice(2, 8)
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${nameCounter}-${rand}`
}

// ---------------------------------------------------------------------------------------------
// the server process

export class ServerProcess {
  /**
   * extraArgs: more `goonline serve` flags. The interop tests that are not about
   * access use plain document names, so they run with --allow-anonymous-docs
   * unless they pass their own list.
   */
  constructor ({ dataDir, ownsDataDir, extraArgs = ['--allow-anonymous-docs'] }) {
    this.dataDir = dataDir
    this.ownsDataDir = ownsDataDir
    this.extraArgs = extraArgs
    this.proc = null
    this.port = null
    this.stderrText = ''
    this.stdoutText = ''
    this.exit = null // { code, signal } once exited
    this.exited = null // promise
    this.annotated = new WeakSet()
  }

  get baseUrl () { return `ws://127.0.0.1:${this.port}` }
  /** y-websocket serverUrl: WebsocketProvider appends `/<roomname>`. */
  get ywsUrl () { return `${this.baseUrl}/y` }
  get hocusUrl () { return `${this.baseUrl}/hocuspocus` }

  async start () {
    if (!existsSync(GOONLINE_BIN)) {
      throw new Error(`goonline binary not found at ${GOONLINE_BIN} (run \`cargo build\` in the repo root, or set GOONLINE_BIN)`)
    }
    const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', this.dataDir, ...this.extraArgs]
    const proc = spawn(GOONLINE_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { RUST_BACKTRACE: '1', NO_COLOR: '1', ...process.env }
    })
    this.proc = proc
    this.exit = null
    proc.on('error', (e) => { this.stderrText += `[harness] process error: ${e.message}\n` })
    this.stderrText += `--- ${new Date().toISOString()} ${GOONLINE_BIN} ${args.join(' ')}\n`
    proc.stderr.setEncoding('utf8')
    proc.stderr.on('data', (d) => {
      this.stderrText += d
      if (this.stderrText.length > 4_000_000) this.stderrText = this.stderrText.slice(-2_000_000)
    })
    proc.stdout.setEncoding('utf8')
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => { this.exit = { code, signal }; resolve(this.exit) })
    })

    this.port = await new Promise((resolve, reject) => {
      let buf = ''
      const timer = setTimeout(() => {
        fail(new Error(`goonline did not print "listening on http://127.0.0.1:PORT" within ${STARTUP_MS} ms`))
      }, STARTUP_MS)
      const fail = (err) => {
        clearTimeout(timer)
        try { proc.kill('SIGKILL') } catch {}
        reject(this.annotate(err))
      }
      const onError = (e) => fail(new Error(`failed to spawn ${GOONLINE_BIN}: ${e.message}`))
      const onExit = (code, signal) => fail(new Error(`goonline exited before listening (code ${code}, signal ${signal})`))
      proc.on('error', onError)
      proc.on('exit', onExit)
      proc.stdout.on('data', (d) => {
        this.stdoutText += d
        buf += d
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '')
          buf = buf.slice(nl + 1)
          const m = LISTEN_RE.exec(line)
          if (m) {
            clearTimeout(timer)
            proc.off('error', onError)
            proc.off('exit', onExit)
            resolve(Number(m[2]))
            return
          }
        }
      })
    })
    return this
  }

  /** SIGTERM and wait for exit; returns { code, signal }. SIGKILLs after STOP_MS and throws. */
  async stop () {
    if (!this.proc) return this.exit
    if (this.exit) return this.exit
    this.proc.kill('SIGTERM')
    const res = await within(this.exited, STOP_MS, null)
    if (res === null) {
      this.proc.kill('SIGKILL')
      await this.exited
      throw this.annotate(new Error(`goonline did not exit within ${STOP_MS} ms of SIGTERM (killed)`))
    }
    return res
  }

  /** Best-effort cleanup for `after` hooks: never throws, never hangs. */
  async kill () {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGTERM')
      const res = await within(this.exited, STOP_MS, null)
      if (res === null) { this.proc.kill('SIGKILL'); await within(this.exited, 2000) }
    }
  }

  stderrTail (lines = 200) {
    const all = this.stderrText.split('\n')
    const tail = all.slice(-lines).join('\n')
    return (all.length > lines ? `[... ${all.length - lines} earlier lines]\n` : '') + tail
  }

  annotate (err) {
    if (err && typeof err === 'object' && !this.annotated.has(err)) {
      this.annotated.add(err)
      err.message += `\n--- goonline stderr (data dir ${this.dataDir}) ---\n${this.stderrTail()}\n--- end goonline stderr ---`
    }
    return err
  }
}

/** An already-running server (manual validation against reference servers). */
class ExternalServer {
  constructor () {
    this.external = true
    this.ywsUrl = (process.env.INTEROP_TARGET_URL_YWS || '').replace(/\/+$/, '')
    this.hocusUrl = process.env.INTEROP_TARGET_URL_HOCUS || ''
    this.dataDir = null
  }

  async start () { return this }
  async stop () { return { code: 0, signal: null } }
  async kill () {}
  annotate (e) { return e }
}

export function makeDataDir () {
  return mkdtempSync(path.join(os.tmpdir(), 'goonline-interop-'))
}

/** A not yet started server (fresh temp data dir unless `dataDir` is given); call `.start()`. */
export function createServer ({ dataDir, extraArgs } = {}) {
  if (EXTERNAL) return new ExternalServer()
  return new ServerProcess({ dataDir: dataDir || makeDataDir(), ownsDataDir: !dataDir, extraArgs })
}

/** Start a server (fresh temp data dir unless `dataDir` is given). */
export async function startServer (opts) {
  return createServer(opts).start()
}

export function removeDataDir (dir) {
  if (dir) rmSync(dir, { recursive: true, force: true })
}

// ---------------------------------------------------------------------------------------------
// clients

/**
 * Tracks every provider/doc/socket a test creates, so all of them are destroyed at the end even
 * when an assertion fails half-way.
 */
export class Clients {
  constructor (server) {
    this.server = server
    this.items = [] // { destroy() }
  }

  track (destroy) {
    const item = { destroyed: false, destroy () { if (!this.destroyed) { this.destroyed = true; destroy() } } }
    this.items.push(item)
    return item
  }

  /**
   * An unmodified y-websocket WebsocketProvider (ws as WebSocket, BroadcastChannel disabled so
   * two providers in this process can only talk through the server).
   */
  yws (docName, { doc = new Y.Doc(), server = this.server, ...opts } = {}) {
    const provider = new WebsocketProvider(server.ywsUrl, docName, doc, {
      WebSocketPolyfill: WebSocket,
      disableBc: true,
      ...opts
    })
    const events = { closes: [], errors: [], synced: 0 }
    provider.on('connection-close', (e) => events.closes.push(e ? { code: e.code, reason: e.reason } : null))
    provider.on('connection-error', (e) => events.errors.push(String(e?.message || e?.error || e?.type || e)))
    provider.on('synced', (s) => { if (s) events.synced += 1 })
    const c = { kind: 'yws', provider, doc, awareness: provider.awareness, events, name: docName }
    c.handle = this.track(() => { provider.destroy(); doc.destroy() })
    c.destroy = () => c.handle.destroy()
    c.isSynced = () => provider.synced
    return c
  }

  /** A HocuspocusProviderWebsocket (one socket that many HocuspocusProviders can share). */
  hocusSocket ({ server = this.server, ...opts } = {}) {
    const socket = new HocuspocusProviderWebsocket({
      url: server.hocusUrl,
      WebSocketPolyfill: WebSocket,
      ...opts
    })
    const events = { disconnects: [], closes: [] }
    socket.on('disconnect', ({ event }) => events.disconnects.push({ code: event?.code, reason: event?.reason }))
    socket.on('close', ({ event }) => events.closes.push({ code: event?.code, reason: event?.reason }))
    const handle = this.track(() => socket.destroy())
    return { socket, events, destroy: () => handle.destroy() }
  }

  /**
   * An unmodified HocuspocusProvider (no token unless `token` is given: a token the
   * server cannot verify is refused). With `socket` (from hocusSocket()) it shares that
   * connection and is attached explicitly (v4 providers don't attach to a given socket by
   * themselves); otherwise it opens its own socket.
   */
  hocus (docName, { doc = new Y.Doc(), socket, token = '', server = this.server, ...opts } = {}) {
    const events = { synced: 0, authenticated: [], authFailed: [], unsyncedMax: 0, closes: [] }
    const config = {
      name: docName,
      document: doc,
      token,
      onSynced: ({ state }) => { if (state) events.synced += 1 },
      onAuthenticated: ({ scope }) => events.authenticated.push(scope),
      onAuthenticationFailed: ({ reason }) => events.authFailed.push(reason),
      onUnsyncedChanges: ({ number }) => { events.unsyncedMax = Math.max(events.unsyncedMax, number) },
      onClose: ({ event }) => events.closes.push({ code: event?.code, reason: event?.reason }),
      ...opts
    }
    let provider
    if (socket) {
      provider = new HocuspocusProvider({ ...config, websocketProvider: socket.socket ?? socket })
      provider.attach()
    } else {
      provider = new HocuspocusProvider({ ...config, url: server.hocusUrl, WebSocketPolyfill: WebSocket })
    }
    const c = { kind: 'hocus', provider, doc, awareness: provider.awareness, events, name: docName }
    c.handle = this.track(() => { provider.destroy(); doc.destroy() })
    c.destroy = () => c.handle.destroy()
    c.isSynced = () => provider.isSynced
    return c
  }

  destroyAll () {
    for (const item of this.items.reverse()) {
      try { item.destroy() } catch (e) { console.error('cleanup error:', e) }
    }
    this.items = []
  }
}

// ---------------------------------------------------------------------------------------------
// assertions on clients

export const describeClient = (c) => {
  const p = c.provider
  const state = c.kind === 'yws'
    ? `wsconnected=${p.wsconnected} synced=${p.synced}`
    : `status=${p.configuration.websocketProvider.status} authenticated=${p.isAuthenticated} synced=${p.isSynced} unsynced=${p.unsyncedChanges}`
  return `${c.kind}(${c.name}) ${state} events=${JSON.stringify(c.events)}`
}

export async function waitSynced (clients, timeout = 10000) {
  for (const c of clients) {
    await waitFor(() => {
      if (c.kind === 'hocus' && c.events.authFailed.length) {
        throw new Error(`authentication failed: ${c.events.authFailed.join('; ')}`)
      }
      return c.isSynced()
    }, { timeout, what: `${c.kind} client to sync`, detail: () => describeClient(c) })
  }
}

export const textOf = (c, key = 'text') => c.doc.getText(key).toString()
export const mapOf = (c, key = 'map') => c.doc.getMap(key).toJSON()

export async function waitText (c, expected, { key = 'text', timeout = 5000 } = {}) {
  await waitFor(() => textOf(c, key) === expected, {
    timeout,
    what: `${c.kind} client's text "${key}" to equal ${JSON.stringify(expected)}`,
    detail: () => `${JSON.stringify(textOf(c, key))}; ${describeClient(c)}`
  })
}

export async function waitMapEntry (c, k, expected, { key = 'map', timeout = 5000 } = {}) {
  await waitFor(() => JSON.stringify(c.doc.getMap(key).toJSON()[k]) === JSON.stringify(expected), {
    timeout,
    what: `${c.kind} client's map "${key}"[${k}] to equal ${JSON.stringify(expected)}`,
    detail: () => `${JSON.stringify(mapOf(c, key))}; ${describeClient(c)}`
  })
}

/** Wait until `observer` sees `subject`'s awareness state with field `field` deep-equal to `value`. */
export async function waitAwareness (observer, subject, field, value, { timeout = 5000 } = {}) {
  const id = subject.doc.clientID
  await waitFor(() => JSON.stringify(observer.awareness.getStates().get(id)?.[field]) === JSON.stringify(value), {
    timeout,
    what: `${observer.kind} client to see ${subject.kind} client ${id}'s awareness ${field}=${JSON.stringify(value)}`,
    detail: () => JSON.stringify([...observer.awareness.getStates()])
  })
}

export async function waitAwarenessGone (observer, clientID, { timeout = 5000 } = {}) {
  await waitFor(() => !observer.awareness.getStates().has(clientID), {
    timeout,
    what: `${observer.kind} client to drop awareness state of client ${clientID}`,
    detail: () => JSON.stringify([...observer.awareness.getStates()])
  })
}

export async function waitUnsyncedZero (c, timeout = 10000) {
  await waitFor(() => c.provider.unsyncedChanges === 0, {
    timeout,
    what: 'Hocuspocus unsyncedChanges to return to 0 (SyncStatus for every update)',
    detail: () => describeClient(c)
  })
}

// ---------------------------------------------------------------------------------------------
// per-file setup

/**
 * One server per test file. `run(fn)` gives each test its own Clients (destroyed afterwards) and
 * appends the server's stderr to any failure.
 */
export class Env {
  constructor () { this.server = null; this.servers = [] }

  async start (opts) {
    const s = createServer(opts)
    this.servers.push(s) // cleaned up by cleanup() even if start() fails
    await s.start()
    this.server = s
    return s
  }

  run (fn) {
    return async (t) => {
      const clients = new Clients(this.server)
      try {
        await fn({ t, clients, server: this.server, env: this })
      } catch (e) {
        for (const s of this.servers) s.annotate(e)
        throw e
      } finally {
        clients.destroyAll()
      }
    }
  }

  /** For `after`: kill every server started here (never throws) and remove owned data dirs. */
  async cleanup () {
    for (const s of this.servers) {
      await s.kill()
      if (s.ownsDataDir) removeDataDir(s.dataDir)
    }
  }
}
