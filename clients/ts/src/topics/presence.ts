//! A topic's presence on this connection (docs/protocol.md §10.2): the other
//! connections' entries, and this connection's own state.
//!
//! The server keeps one state per connection and topic, so the states the
//! local subscriptions set are folded into one: the most recently set of those
//! still held wins; when a subscription clears its state or leaves, the state
//! of the one before shows again. It is sent once the subscription is live,
//! renewed every 20 s (the server forgets it after 30 s), and sent again on
//! every new socket. A state the server refuses (over 1 KiB, or no signed-in
//! user) is neither renewed nor sent again until a state is set anew.

import type { PresenceEntry } from '../frames.js'
import { ValueStore } from '../store.js'

/** Presence is renewed this often; the server forgets it after 30 s. */
export const PRESENCE_RENEW_MS = 20_000

export class TopicPresence {
  /** The others' entries, keyed by `client`, in arrival order. */
  readonly others: ValueStore<PresenceEntry[]>
  /** States set by local subscriptions, the most recent last. */
  private readonly own = new Map<object, unknown>()
  /** What the server holds for us now (`undefined`: nothing). */
  private sent: unknown = undefined
  private live = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The state the server refused (`undefined`: none). */
  private refusedState: unknown = undefined

  constructor(
    /** Sends a `presence` frame (`null` clears). */
    private readonly send: (state: unknown) => void,
    report: (e: unknown) => void,
  ) {
    this.others = new ValueStore<PresenceEntry[]>([], report)
  }

  /** `owner` sets its state (`null`/`undefined` clears it). */
  set(owner: object, state: unknown): void {
    this.refusedState = undefined
    this.own.delete(owner)
    if (state !== null && state !== undefined) this.own.set(owner, state)
    // Sent even if it is the same object: the caller may have changed it.
    this.sync(true)
  }

  /** `owner` is gone: its state no longer counts. */
  drop(owner: object): void {
    if (this.own.delete(owner)) this.sync(false)
  }

  /** The subscription is live on this socket: send our state. */
  goLive(): void {
    this.live = true
    this.sent = undefined
    this.sync(false)
  }

  /** The subscription is gone on this socket (with everyone's presence). */
  goIdle(): void {
    this.live = false
    this.sent = undefined
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.others.get().length > 0) this.others.set([])
  }

  /**
   * The server refused our state. Errors do not say which frame they answer:
   * it is taken to be the last one sent (a state set since then is sent anyway).
   */
  refused(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.refusedState = this.sent
  }

  /** A `presence` frame: entries with a nil state left. */
  apply(entries: PresenceEntry[]): void {
    const list = this.others.get().slice()
    for (const e of entries) {
      const at = list.findIndex((x) => x.client === e.client)
      if (e.state === null || e.state === undefined) {
        if (at >= 0) list.splice(at, 1)
      } else if (at >= 0) {
        list[at] = e
      } else {
        list.push(e)
      }
    }
    this.others.set(list)
  }

  private wanted(): unknown {
    let last: unknown = undefined
    for (const v of this.own.values()) last = v
    return last
  }

  private sync(force: boolean): void {
    if (!this.live) return
    const want = this.wanted()
    if (want === undefined) {
      if (this.sent !== undefined) {
        clearTimeout(this.timer)
        this.timer = undefined
        this.sent = undefined
        this.send(null)
      }
      return
    }
    if (!force && (want === this.sent || want === this.refusedState)) return
    this.sent = want
    this.send(want)
    this.schedule()
  }

  private schedule(): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (!this.live || this.sent === undefined) return
      this.send(this.sent)
      this.schedule()
    }, PRESENCE_RENEW_MS)
  }
}
