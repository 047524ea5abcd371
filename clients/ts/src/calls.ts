//! Typed operations over the socket: `call` → `reply` (docs/protocol.md §8.2),
//! with timeouts, cancellation and an offline queue.
//!
//! A call that was sent when the socket dropped has an unknown outcome. With an
//! idempotency key it is sent again on the next socket (the server runs it at
//! most once per key, §9.3); without one it fails with `connection_lost`.

import { GoOnlineError } from './errors.js'
import type { ServerFrame } from './frames.js'
import type { Channel, Feature } from './internal.js'

export interface CallOptions {
  /**
   * Makes the call safe to retry: the server runs it at most once per key and
   * replays its outcome. Required for `whileOffline: 'queue'`.
   */
  idempotencyKey?: string
  /**
   * How long to wait for the reply once the call is on the wire (ms). Default:
   * the client's `callTimeoutMs` (30 000). A queued call does not time out
   * while it waits for a connection; cancel it with `signal`.
   */
  timeoutMs?: number
  /**
   * What to do when there is no connection: `queue` waits for the next one
   * (needs `idempotencyKey`), `fail` rejects at once with code `offline`.
   * Default: `queue` with an idempotency key, `fail` without. A `fail` call
   * made while the very first connection is being made waits for it, within
   * its `timeoutMs` (and fails if the client stops as `unauthorized`).
   */
  whileOffline?: 'queue' | 'fail'
  /** Cancels the call (rejects with code `aborted`); a call already sent may still run. */
  signal?: AbortSignal
}

/** The untyped form features use. */
export type CallFn = (method: string, params?: unknown, opts?: CallOptions) => Promise<unknown>

interface PendingCall {
  method: string
  params: unknown
  opts: CallOptions
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  /** Set while the call is on the wire. */
  id?: number
  timer?: ReturnType<typeof setTimeout>
  onAbort?: () => void
}

export class Calls implements Feature {
  /** Waiting for a socket, in call order. */
  private queue: PendingCall[] = []
  /** On the wire, by id. */
  private readonly inflight = new Map<number, PendingCall>()
  private destroyed = false

  constructor(
    private readonly channel: Channel,
    private readonly defaultTimeoutMs: number,
    /** Whether a call made now should fail as `offline` (it is not the first connect). */
    private readonly offlineNow: () => boolean,
  ) {}

  call: CallFn = (method, params, opts = {}) => {
    if (this.destroyed) return Promise.reject(new GoOnlineError('closed', 'the client is closed'))
    const whileOffline = opts.whileOffline ?? (opts.idempotencyKey ? 'queue' : 'fail')
    if (whileOffline === 'queue' && !opts.idempotencyKey) {
      return Promise.reject(new TypeError("whileOffline: 'queue' needs an idempotencyKey: a queued call may be sent twice"))
    }
    if (opts.signal?.aborted) return Promise.reject(new GoOnlineError('aborted', 'the call was aborted'))
    if (!this.channel.isOpen && whileOffline === 'fail' && this.offlineNow()) {
      return Promise.reject(new GoOnlineError('offline', `no connection to run ${method}`))
    }
    return new Promise((resolve, reject) => {
      const call: PendingCall = { method, params, opts: { ...opts, whileOffline }, resolve, reject }
      if (opts.signal) {
        call.onAbort = () => this.settle(call, new GoOnlineError('aborted', 'the call was aborted'))
        opts.signal.addEventListener('abort', call.onAbort, { once: true })
      }
      if (this.channel.isOpen) {
        this.transmit(call)
      } else {
        this.queue.push(call)
        if (whileOffline === 'fail') {
          // Waiting for the first connection counts against its timeout.
          this.arm(call, 'no connection came up in time')
        }
      }
    })
  }

  /**
   * The connection stopped trying (`unauthorized`) or the platform is offline:
   * calls that may not wait for a connection fail now with `code`.
   */
  failWaiting(code: 'unauthorized' | 'offline', message: string): void {
    for (const call of [...this.queue]) {
      if (call.opts.whileOffline === 'fail') this.settle(call, new GoOnlineError(code, message))
    }
  }

  onOpen(): void {
    const queued = this.queue
    this.queue = []
    for (const call of queued) this.transmit(call)
  }

  onClose(): void {
    // Unknown outcome: retry what is safe to retry, fail the rest.
    const resend: PendingCall[] = []
    for (const call of [...this.inflight.values()].sort((a, b) => a.id! - b.id!)) {
      this.inflight.delete(call.id!)
      clearTimeout(call.timer)
      call.timer = undefined
      call.id = undefined
      if (call.opts.idempotencyKey) {
        resend.push(call)
      } else {
        this.settle(call, new GoOnlineError('connection_lost', `the connection dropped before ${call.method} was answered; it may or may not have run`))
      }
    }
    this.queue = [...resend, ...this.queue]
    // Calls waiting with `fail` do not wait for a reconnect.
    for (const call of [...this.queue]) {
      if (call.opts.whileOffline === 'fail') {
        this.settle(call, new GoOnlineError('offline', `no connection to run ${call.method}`))
      }
    }
  }

  onFrame(frame: ServerFrame): boolean {
    if (frame.type === 'reply') {
      const call = this.inflight.get(frame.id)
      if (!call) return true // Cancelled or timed out: the reply is moot.
      if (frame.error) {
        this.settle(call, GoOnlineError.fromWire(frame.error))
      } else {
        this.settle(call, undefined, frame.result ?? null)
      }
      return true
    }
    if (frame.type === 'error' && frame.re !== undefined && frame.doc === undefined && frame.topic === undefined) {
      const call = this.inflight.get(frame.re)
      if (!call) return false
      this.settle(call, new GoOnlineError(frame.code, frame.message))
      return true
    }
    return false
  }

  destroy(): void {
    this.destroyed = true
    for (const call of [...this.inflight.values(), ...this.queue]) {
      this.settle(call, new GoOnlineError('closed', 'the client is closed'))
    }
  }

  private transmit(call: PendingCall): void {
    const id = this.channel.nextId()
    call.id = id
    this.inflight.set(id, call)
    let sent: boolean
    try {
      sent = this.channel.send({
        type: 'call',
        id,
        method: call.method,
        params: call.params ?? {},
        idempotency_key: call.opts.idempotencyKey,
      })
    } catch (e) {
      this.settle(call, e)
      return
    }
    if (!sent) {
      this.inflight.delete(id)
      call.id = undefined
      this.queue.push(call)
      return
    }
    // A call that waited for the first connection keeps its deadline.
    if (call.timer === undefined) this.arm(call, 'got no reply')
  }

  private arm(call: PendingCall, what: string): void {
    const timeoutMs = call.opts.timeoutMs ?? this.defaultTimeoutMs
    call.timer = setTimeout(() => {
      this.settle(call, new GoOnlineError('timeout', `${call.method} ${what} within ${timeoutMs} ms; it may or may not have run`))
    }, timeoutMs)
  }

  /** Resolves or rejects once, and forgets the call. */
  private settle(call: PendingCall, error: unknown, result?: unknown): void {
    if (call.id !== undefined) this.inflight.delete(call.id)
    const at = this.queue.indexOf(call)
    if (at >= 0) this.queue.splice(at, 1)
    clearTimeout(call.timer)
    if (call.onAbort) call.opts.signal?.removeEventListener('abort', call.onAbort)
    if (error !== undefined) call.reject(error)
    else call.resolve(result)
  }
}
