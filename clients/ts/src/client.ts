//! `createClient`: one multiplexed connection carrying typed operations,
//! Yjs documents, topics and chat.

import { Calls, type CallOptions } from './calls.js'
import { Chat } from './chat.js'
import { Connection } from './connection.js'
import type { ConnectionOptions, Status } from './connection-options.js'
import { Docs, type DocHandle, type DocOptions } from './docs.js'
import type { MethodName, ParamsOf, ResultOf } from './methods.js'
import type { ReadableStore } from './store.js'
import { Topics, type Subscription, type SubscribeOptions, type TopicEvent } from './topics.js'

export interface ClientOptions extends ConnectionOptions {
  /** Default timeout of `call` (ms). Default 30 000. */
  callTimeoutMs?: number
  /** How long a released document stays open in case it is acquired again (ms). Default 1 000. */
  docLingerMs?: number
  /** How long an unsubscribed topic, or a closed chat room, stays live in case it is taken again (ms). Default 1 000. */
  topicLingerMs?: number
  /** Connect at once (default) or on the first `reconnect()`. */
  autoConnect?: boolean
}

type ErrorListener = (error: unknown) => void

/** Arguments of `call`: params may be left out when the method takes none. */
export type CallArgs<M extends MethodName> = undefined extends ParamsOf<M>
  ? [params?: ParamsOf<M>, opts?: CallOptions]
  : [params: ParamsOf<M>, opts?: CallOptions]

export class Client {
  /** The connection's status. */
  readonly status: ReadableStore<Status>
  /** The signed-in user's id, or null on an anonymous connection. */
  readonly user: ReadableStore<string | null>
  /** Chat helpers (docs/protocol.md §10.6). */
  readonly chat: Chat
  private readonly connection: Connection
  private readonly calls: Calls
  private readonly docs: Docs
  private readonly topics: Topics
  private readonly errorListeners = new Set<ErrorListener>()

  constructor(opts: ClientOptions) {
    const report = (e: unknown) => this.emitError(e)
    this.connection = new Connection({ ...opts, report })
    this.status = this.connection.status
    this.user = this.connection.user
    // Calls made before the first connection wait for it; later ones fail at
    // once when offline unless queued.
    this.calls = new Calls(this.connection, opts.callTimeoutMs ?? 30_000, () => {
      const s = this.connection.status.get()
      return s !== 'connecting'
    })
    // Calls that may not wait do not wait for a client that stopped trying.
    this.connection.status.subscribe((status) => {
      if (status === 'unauthorized') this.calls.failWaiting('unauthorized', 'not signed in: the client stopped connecting')
      else if (status === 'offline') this.calls.failWaiting('offline', 'the device is offline')
    })
    this.docs = new Docs(this.connection, { lingerMs: opts.docLingerMs ?? 1_000 })
    this.topics = new Topics(this.connection, this.calls.call, { lingerMs: opts.topicLingerMs ?? 1_000 })
    this.chat = new Chat(this.calls.call, this.topics, this.user, { lingerMs: opts.topicLingerMs ?? 1_000 })
    this.connection.attach(this.calls)
    this.connection.attach(this.docs)
    this.connection.attach(this.topics)
    if (opts.autoConnect !== false) this.connection.start()
  }

  /** Runs an operation; rejects with a `GoOnlineError` carrying the server's code. */
  call<M extends MethodName>(method: M, ...args: CallArgs<M>): Promise<ResultOf<M>> {
    const [params, opts] = args
    return this.calls.call(method, params, opts) as Promise<ResultOf<M>>
  }

  /** Runs an operation by a name not in `Methods` (results are not typed). */
  callUntyped(method: string, params?: unknown, opts?: CallOptions): Promise<unknown> {
    return this.calls.call(method, params, opts)
  }

  /**
   * Opens (or shares) the document `name`, bound to a Yjs `Y.Doc`. Each call
   * must be matched by `handle.release()`.
   */
  doc(name: string, opts?: DocOptions): DocHandle {
    return this.docs.acquire(name, opts)
  }

  /** Follows a topic from `since` (resumed across reconnects). */
  subscribe(topic: string, opts: SubscribeOptions, handler: (event: TopicEvent) => void): Subscription {
    return this.topics.subscribe(topic, opts, handler)
  }

  /** Listens for errors not tied to a request: exceptions in callbacks, protocol errors. */
  on(event: 'error', listener: ErrorListener): () => void {
    if (event !== 'error') throw new TypeError(`unknown event ${String(event)}`)
    this.errorListeners.add(listener)
    return () => {
      this.errorListeners.delete(listener)
    }
  }

  /** Connects now: after `unauthorized` (once the user signed in again), or to skip a backoff wait. */
  reconnect(): void {
    this.connection.reconnect()
  }

  /** Closes the connection for good; pending calls reject with `closed`. */
  close(): void {
    this.connection.stop()
  }

  private emitError(e: unknown): void {
    if (this.errorListeners.size === 0) {
      // Nobody listens: keep it visible without throwing into the SDK.
      ;(globalThis as { console?: { error?: (...a: unknown[]) => void } }).console?.error?.('[goonline]', e)
      return
    }
    for (const l of [...this.errorListeners]) {
      try {
        l(e)
      } catch {
        // An error listener that throws has nowhere left to report to.
      }
    }
  }
}

/** Creates a client and (by default) starts connecting. */
export function createClient(opts: ClientOptions): Client {
  return new Client(opts)
}
