//! The one socket: connects, signs in with the app's `auth` function, keeps the
//! link alive, reconnects with backoff, and hands frames to the features
//! (calls, documents, topics) that ride on it.
//!
//! Close-code policy (docs/protocol.md §6.2): 1000 after our own close and 4400
//! (a client bug) stop; 4401 asks `auth` for a fresh token once and stops as
//! `unauthorized` if that is refused too; everything else reconnects with
//! backoff.

import { backoffDelay } from './backoff.js'
import { decodeFrame, encodeFrame } from './codec.js'
import { isUnauthorized, TokenSource } from './auth.js'
import { afterClose } from './close-policy.js'
import type { ConnectionDeps, Status } from './connection-options.js'
import { GoOnlineError } from './errors.js'
import { PROTOCOL_VERSION, type ClientFrame, type Limits, type ServerFrame } from './frames.js'
import type { Channel, Feature } from './internal.js'
import { PacedWriter } from './pacer.js'
import { defaultWebSocket, endpointUrl, messageBytes, type WebSocketLike } from './socket.js'
import { ValueStore } from './store.js'

const DEFAULT_LIMITS: Limits = { max_frame_bytes: 4 * 1024 * 1024, max_doc_bytes: 32 * 1024 * 1024, max_open_docs: 256 }
/** A connection must stay up this long before the backoff starts again from the bottom. */
const STABLE_MS = 10_000
/** After a sleep or a foreground signal, a probe ping must be answered this fast. */
const PROBE_MS = 5_000

export class Connection implements Channel {
  readonly status: ValueStore<Status>
  readonly user: ValueStore<string | null>
  limits: Limits = DEFAULT_LIMITS
  private readonly features: Feature[] = []
  private ws: WebSocketLike | null = null
  /** Bumped for every socket; callbacks of an older socket are ignored. */
  private generation = 0
  private open = false
  private attempt = 0
  private everConnected = false
  private stopped = false
  /** The last close was 4401: the next token is asked for with reason `rejected`. */
  private rejected = false
  /** A connect is between its start and its socket (awaiting `auth`). */
  private connecting = false
  /** The code of an `error` that came before `welcome` (the close follows it). */
  private refusal: string | undefined
  /** When the current socket got `welcome` (ms), until the backoff was reset. */
  private welcomedAt: number | undefined
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined
  private online: boolean
  private idCounter = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined
  private pongDeadline: ReturnType<typeof setTimeout> | undefined
  private retryAfterDrop: ReturnType<typeof setTimeout> | undefined
  private lastTick = 0
  private heartbeatMs = 15_000
  /** The current socket's writes; replaced with each socket. */
  private writer: PacedWriter | null = null
  private readonly unsubscribers: Array<() => void> = []

  /** Tokens from the app's `auth`, one request at a time. */
  private readonly tokens: TokenSource

  constructor(private readonly opts: ConnectionDeps) {
    this.tokens = new TokenSource(opts.auth)
    this.status = new ValueStore<Status>('connecting', opts.report)
    this.user = new ValueStore<string | null>(null, opts.report)
    this.online = opts.platform?.isOnline?.() ?? true
    const p = opts.platform
    if (p?.onNetworkChange) this.unsubscribers.push(p.onNetworkChange((up) => this.onNetwork(up)))
    if (p?.onForegroundChange) {
      this.unsubscribers.push(p.onForegroundChange((front) => front && this.wake()))
    }
  }

  /** Adds a feature; frames are offered to features in the order they were added. */
  attach(feature: Feature): void {
    this.features.push(feature)
  }

  get isOpen(): boolean {
    return this.open
  }

  nextId(): number {
    this.idCounter += 1
    return this.idCounter
  }

  report(error: unknown): void {
    this.opts.report(error)
  }

  /** Starts connecting (also after `unauthorized`: a new attempt at once). */
  start(): void {
    if (this.stopped || this.ws || this.connecting) return
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.attempt = 0
    void this.connect()
  }

  /** Drops the current socket (if any) and connects again at once. */
  reconnect(): void {
    if (this.stopped) return
    this.rejected = false
    this.drop()
    // A connect still awaiting `auth` is stale now (its generation is gone).
    this.connecting = false
    this.start()
  }

  /** Closes for good. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    for (const u of this.unsubscribers.splice(0)) u()
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    // Before the socket goes: pending calls end as `closed`, not as lost.
    for (const f of this.features) {
      try {
        f.destroy()
      } catch (e) {
        this.report(e)
      }
    }
    const ws = this.ws
    this.detach()
    if (ws) {
      try {
        ws.close(1000, 'client closed')
      } catch {
        // Already closing.
      }
    }
    this.user.set(null)
    this.status.set('closed')
  }

  send(frame: ClientFrame): boolean {
    if (!this.open || !this.ws) return false
    const bytes = encodeFrame(frame)
    if (bytes.byteLength > this.limits.max_frame_bytes) {
      throw new GoOnlineError(
        'frame_too_large',
        `frame of ${bytes.byteLength} bytes is over the server's limit of ${this.limits.max_frame_bytes}`,
      )
    }
    this.writer?.push(bytes)
    return true
  }

  // ---- connecting ---------------------------------------------------------------------

  private async connect(): Promise<void> {
    if (this.stopped) return
    if (!this.online) {
      this.status.set('offline')
      return
    }
    this.status.set(this.everConnected ? 'reconnecting' : 'connecting')
    const gen = ++this.generation
    this.connecting = true
    let token: string | null | undefined
    try {
      token = await this.tokens.get(this.rejected ? 'rejected' : 'connect')
    } catch (e) {
      if (gen !== this.generation || this.stopped) return
      this.connecting = false
      if (isUnauthorized(e)) {
        this.unauthorized()
        return
      }
      this.report(e)
      this.scheduleRetry()
      return
    }
    if (gen !== this.generation || this.stopped) return
    this.connecting = false
    this.refusal = undefined
    let ws: WebSocketLike
    try {
      const Ctor = this.opts.WebSocket ?? defaultWebSocket()
      ws = new Ctor(endpointUrl(this.opts.url))
      ws.binaryType = 'arraybuffer'
    } catch (e) {
      this.report(e)
      this.scheduleRetry()
      return
    }
    this.ws = ws
    this.writer = new PacedWriter((bytes) => this.raw(ws, bytes))
    const sentToken = token ?? undefined
    this.handshakeTimer = setTimeout(() => {
      if (gen === this.generation && !this.open) this.lost(gen, 4000, 'handshake timed out')
    }, this.opts.connectTimeoutMs ?? 10_000)
    ws.onopen = () => {
      if (gen !== this.generation) return
      // Sent directly: `send` waits for `welcome`.
      this.raw(ws, encodeFrame({ type: 'hello', version: PROTOCOL_VERSION, client: this.opts.clientName ?? '@goonline/client', token: sentToken }))
    }
    ws.onmessage = (ev: { data: unknown }) => {
      if (gen !== this.generation) return
      const bytes = messageBytes(ev.data)
      if (!bytes) return // The server sends binary frames only.
      let frame: ServerFrame | undefined
      try {
        frame = decodeFrame(bytes)
      } catch (e) {
        this.report(e)
        return
      }
      // Any frame proves the link alive: frames are handled in order, so a
      // pong can wait behind a slow call.
      clearTimeout(this.pongDeadline)
      this.pongDeadline = undefined
      if (this.welcomedAt !== undefined && Date.now() - this.welcomedAt >= STABLE_MS) {
        // Alive well after the handshake: the backoff starts from the bottom again.
        this.attempt = 0
        this.welcomedAt = undefined
      }
      if (frame) this.onFrame(frame)
    }
    ws.onclose = (ev: { code?: number; reason?: string }) => {
      if (gen === this.generation) this.lost(gen, ev.code ?? 1006, ev.reason ?? '')
    }
    ws.onerror = () => {
      // `onclose` follows with the code.
    }
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        clearTimeout(this.handshakeTimer)
        this.handshakeTimer = undefined
        this.welcomed(frame.heartbeat_ms, frame.limits, frame.user ?? null)
        return
      case 'authenticated':
        this.user.set(frame.user)
        return
      case 'reauth':
        void this.reauth()
        return
      case 'pong':
        return
      default:
    }
    if (!this.open) {
      // Before `welcome` only errors come, then a close; the close decides,
      // with this code in case a proxy turned it into 1006.
      if (frame.type === 'error') this.refusal = frame.code
      return
    }
    for (const f of this.features) {
      try {
        if (f.onFrame(frame)) return
      } catch (e) {
        this.report(e)
        return
      }
    }
    if (frame.type !== 'error') return
    const error = new GoOnlineError(frame.code, frame.message)
    this.report(error)
    if (frame.code === 'rate_limited' && frame.re === undefined && !frame.doc && !frame.topic) {
      // A frame was dropped and nothing says which (the pacer should prevent
      // this): pause, then reconnect, which re-syncs everything (§12.5).
      const gen = this.generation
      clearTimeout(this.retryAfterDrop)
      this.retryAfterDrop = setTimeout(() => {
        if (gen === this.generation) this.lost(gen, 1006, 'a frame was dropped by the server (rate limited)')
      }, 1_000)
    }
  }

  private welcomed(heartbeatMs: number, limits: Limits, user: string | null): void {
    this.open = true
    this.everConnected = true
    this.rejected = false
    this.limits = { ...DEFAULT_LIMITS, ...limits }
    this.user.set(user)
    this.heartbeatMs = Math.max(1_000, Math.min(this.opts.heartbeatMs ?? 15_000, heartbeatMs || 15_000))
    this.lastTick = Date.now()
    this.armHeartbeat()
    // The backoff starts from the bottom again only once the link proves alive
    // well after the handshake (a link that goes silent must not reset it).
    this.welcomedAt = Date.now()
    this.status.set('connected')
    for (const f of this.features) {
      try {
        f.onOpen()
      } catch (e) {
        this.report(e)
      }
    }
  }

  private async reauth(): Promise<void> {
    const gen = this.generation
    try {
      const token = await this.tokens.get('reauth')
      if (gen !== this.generation || !this.ws) return
      // No token: the server closes with 4401 at the deadline, and the close decides.
      if (token) this.raw(this.ws, encodeFrame({ type: 'auth', token }))
    } catch (e) {
      if (isUnauthorized(e)) {
        if (gen !== this.generation) return
        this.drop()
        this.unauthorized()
        return
      }
      this.report(e)
    }
  }

  /** Stops until `reconnect()`: the user must sign in again. */
  private unauthorized(): void {
    this.user.set(null)
    this.status.set('unauthorized')
  }

  /** The socket `gen` is gone with `code`: tell the features and decide what next. */
  private lost(gen: number, code: number, reason: string): void {
    if (gen !== this.generation) return
    const wasOpen = this.open
    const ws = this.ws
    this.detach()
    if (ws && ws.readyState < 2) {
      try {
        ws.close(4000, reason.slice(0, 100))
      } catch {
        // Already closing.
      }
    }
    if (this.stopped) return
    const refusal = this.refusal
    this.refusal = undefined
    const next = afterClose(code, wasOpen, refusal, this.rejected)
    switch (next.kind) {
      case 'unauthorized':
        this.rejected = false
        this.unauthorized()
        return
      case 'refresh':
        this.rejected = true
        this.attempt = 0
        void this.connect()
        return
      case 'stop':
        this.report(new GoOnlineError('bad_frame', `the server closed the connection as a protocol violation: ${reason}`))
        this.user.set(null)
        this.status.set('closed')
        return
      case 'retry':
        if (next.attempt === 'reset') this.attempt = 0
        else if (next.attempt !== undefined) this.attempt = Math.max(this.attempt, next.attempt)
    }
    this.scheduleRetry()
  }

  private scheduleRetry(): void {
    if (this.stopped) return
    if (!this.online) {
      this.status.set('offline')
      return
    }
    this.status.set(this.everConnected ? 'reconnecting' : 'connecting')
    const delay = backoffDelay(this.attempt, this.opts.reconnect)
    this.attempt += 1
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      void this.connect()
    }, delay)
  }

  /** Forgets the current socket and everything tied to it. */
  private detach(): void {
    const wasOpen = this.open
    this.generation += 1
    this.open = false
    this.writer?.clear()
    this.writer = null
    clearTimeout(this.heartbeatTimer)
    clearTimeout(this.pongDeadline)
    clearTimeout(this.handshakeTimer)
    clearTimeout(this.retryAfterDrop)
    this.heartbeatTimer = this.pongDeadline = this.handshakeTimer = this.retryAfterDrop = undefined
    this.welcomedAt = undefined
    const ws = this.ws
    this.ws = null
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null
      // Not null: closing a socket that is still connecting makes some
      // implementations (`ws`) emit an error that must have a listener.
      ws.onerror = () => {}
    }
    if (wasOpen) {
      for (const f of this.features) {
        try {
          f.onClose()
        } catch (e) {
          this.report(e)
        }
      }
    }
  }

  /** Drops the current socket without waiting for the server. */
  private drop(): void {
    const ws = this.ws
    this.detach()
    if (ws) {
      try {
        ws.close(1000, 'reconnecting')
      } catch {
        // Already closing.
      }
    }
  }

  // ---- liveness -----------------------------------------------------------------------

  private armHeartbeat(): void {
    clearTimeout(this.heartbeatTimer)
    this.heartbeatTimer = setTimeout(() => this.tick(), this.heartbeatMs)
  }

  /** Pings on a fixed schedule: incoming traffic alone never proves the link is up. */
  private tick(): void {
    if (!this.open) return
    const now = Date.now()
    // Far later than asked: the device slept or the tab was frozen; the link
    // is suspect, so the pong must come quickly.
    const slept = now - this.lastTick > this.heartbeatMs * 2
    this.lastTick = now
    this.ping(slept ? PROBE_MS : (this.opts.pongTimeoutMs ?? 12_000))
    this.armHeartbeat()
  }

  private ping(timeoutMs: number): void {
    if (!this.open || !this.ws) return
    const gen = this.generation
    this.send({ type: 'ping', ts: Date.now() })
    if (this.pongDeadline === undefined) {
      this.pongDeadline = setTimeout(() => {
        this.pongDeadline = undefined
        this.lost(gen, 4408, 'no pong from the server: the link is dead')
      }, timeoutMs)
    }
  }

  /** The app came to the front or the network came back: check now. */
  private wake(): void {
    if (this.stopped) return
    if (this.open) {
      this.ping(PROBE_MS)
      return
    }
    if (this.status.get() === 'unauthorized' || this.status.get() === 'closed') return
    if (this.ws || this.connecting) return // A connect is in progress.
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.attempt = 0
    void this.connect()
  }

  private onNetwork(up: boolean): void {
    this.online = up
    if (up) {
      this.wake()
    } else if (this.open) {
      // The socket may survive a short flap; a probe tells.
      this.ping(PROBE_MS)
    } else if (!this.ws && !this.connecting && this.status.get() !== 'unauthorized' && this.status.get() !== 'closed') {
      clearTimeout(this.retryTimer)
      this.retryTimer = undefined
      this.status.set('offline')
    }
  }

  // ---- writing ------------------------------------------------------------------------

  /** Writes bytes; a socket that throws is treated as lost. */
  private raw(ws: WebSocketLike, bytes: Uint8Array): boolean {
    try {
      // An exact buffer: msgpackr hands out views of a larger one, and some
      // platforms' sockets send the whole underlying buffer of a view.
      ws.send(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice())
      return true
    } catch {
      this.lost(this.generation, 1006, 'send failed')
      return false
    }
  }
}

