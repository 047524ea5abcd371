//! One topic's server subscription, shared by every local subscription to it
//! (the server allows one per topic per connection: `already_subscribed`).
//!
//! It keeps `lastSeq`, the last event it processed, and subscribes with
//! `since = lastSeq` on every connection, so a reconnect resumes where it left
//! off; events at or below `lastSeq` are dropped, so nothing is delivered
//! twice (docs/protocol.md §10.3). It also holds the topic's presence
//! (`presence.ts`).

import { backoffDelay } from '../backoff.js'
import { GoOnlineError } from '../errors.js'
import type { PresenceEntry, ServerFrame } from '../frames.js'
import type { Channel } from '../internal.js'
import type { ReadableStore } from '../store.js'
import type { LocalSubscription } from './local.js'
import { TopicPresence } from './presence.js'
import type { EndReason, SubscriptionStatus, TopicEvent } from './types.js'

/** What an entry needs from the `Topics` feature that holds it. */
export interface EntryHost {
  readonly channel: Channel
  readonly lingerMs: number
  /** The entry is gone (ended, or lingered out): drop it from the topic map. */
  forget(entry: TopicEntry): void
  /** Sends `unsub` and remembers to swallow the old subscription's frames until `unsubscribed`. */
  unsub(topic: string): void
}

type ErrorFrame = Extract<ServerFrame, { type: 'error' }>

/** Latest-value topics (`metrics`): `seq` may skip, only the newest event matters. */
export function isLatestValue(topic: string): boolean {
  const parts = topic.split('/')
  const kind = parts[0] === 'platform' ? parts[1] : parts[2]
  return kind === 'metrics'
}

export class TopicEntry {
  readonly latestValue: boolean
  /** The last event processed (or the first subscriber's `since`): the resume point. */
  lastSeq: number | undefined
  /** The newest event of a latest-value topic, handed to subscribers that join later. */
  private lastEvent: TopicEvent | undefined
  private readonly topicPresence: TopicPresence
  readonly locals = new Set<LocalSubscription>()
  /** Shared status: `subscribing` until `subscribed`, `live`, then `ended`. */
  state: SubscriptionStatus = 'subscribing'
  /** Where the server subscription is on the current socket. */
  private server: 'idle' | 'subscribing' | 'live' = 'idle'
  /** The `id` of the last `sub` sent: errors carrying it are about it. */
  private subId: number | undefined
  /** An `error` without `re` came during the replay: the `unsubscribed` that follows is a store failure. */
  private replayFailed = false
  private retriedDuplicate = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private retryAttempt = 0
  private lingerTimer: ReturnType<typeof setTimeout> | undefined
  ended = false

  constructor(
    readonly topic: string,
    since: number | undefined,
    private readonly host: EntryHost,
    report: (e: unknown) => void,
  ) {
    this.latestValue = isLatestValue(topic)
    this.lastSeq = since
    this.topicPresence = new TopicPresence((state) => {
      try {
        host.channel.send({ type: 'presence', topic, state })
      } catch (e) {
        host.channel.report(e)
      }
    }, report)
  }

  /** The other connections' presence entries. */
  get presence(): ReadableStore<PresenceEntry[]> {
    return this.topicPresence.others
  }

  /** A local subscription sets (or with `null` clears) this connection's presence. */
  setPresence(owner: LocalSubscription, state: unknown): void {
    if (!this.ended) this.topicPresence.set(owner, state)
  }

  // ---- local subscribers ----------------------------------------------------------------

  /**
   * Adds a local subscriber that wants the events after `since`:
   * - latest-value topics: it gets the newest event (the one known, or read
   *   once with `topic.events` if the stream has handed none over), then live
   *   ones;
   * - if the shared stream is at `since` (or `since` is left out and the
   *   stream has delivered nothing yet), it takes the stream as is;
   * - if the stream has not reached `since` yet, it checks with
   *   `topic.events` that the server has `since` (else it starts over, like a
   *   first subscriber: `onReset`); a `since` the replay turns out to be past
   *   is found at `subscribed` (`caughtUpTo`);
   * - otherwise it catches up through `topic.events` first.
   */
  add(local: LocalSubscription, since: number | undefined): void {
    clearTimeout(this.lingerTimer)
    this.lingerTimer = undefined
    this.locals.add(local)
    if (this.latestValue) {
      local.ride(this.state)
      const newest = this.lastEvent
      if (newest && (since === undefined || newest.seq > since)) {
        // After `subscribe` has returned, so the handler may use the subscription.
        void Promise.resolve().then(() => local.deliver(newest))
      } else if (!newest && this.lastSeq !== undefined && (since === undefined || since < this.lastSeq)) {
        // The stream started at a `since` of its own: it has no value to hand over.
        void local.fetchNewest(this.lastSeq)
      }
    } else if (this.lastSeq === undefined || since === this.lastSeq) {
      local.ride(this.state)
    } else {
      local.startCatchUp()
    }
  }

  /** A latest-value event read by a subscriber: kept for the next ones if it is the newest. */
  offerNewest(event: TopicEvent): void {
    if (this.ended || !this.latestValue) return
    if (!this.lastEvent || event.seq > this.lastEvent.seq) this.lastEvent = event
  }

  /** A local subscriber left; the last one ends the server subscription after the linger. */
  leave(local: LocalSubscription): void {
    this.locals.delete(local)
    this.topicPresence.drop(local)
    if (this.locals.size > 0 || this.ended) return
    clearTimeout(this.lingerTimer)
    this.lingerTimer = setTimeout(() => this.release(), this.host.lingerMs)
  }

  private release(): void {
    this.lingerTimer = undefined
    if (this.locals.size > 0 || this.ended) return
    this.ended = true
    this.clearTimers()
    this.host.forget(this)
    if (this.server !== 'idle' && this.host.channel.isOpen) this.host.unsub(this.topic)
    this.server = 'idle'
  }

  // ---- connection ---------------------------------------------------------------------

  /** A socket finished its handshake. */
  opened(): void {
    if (this.ended) return
    if (this.locals.size === 0) {
      // Lingering when the link dropped: nobody wants it any more.
      clearTimeout(this.lingerTimer)
      this.release()
      return
    }
    this.sendSub()
    for (const l of this.locals) l.kick()
  }

  /** The socket is gone: the server subscription and everyone's presence with it. */
  closed(): void {
    this.server = 'idle'
    this.subId = undefined
    this.replayFailed = false
    this.retriedDuplicate = false
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.topicPresence.goIdle()
    if (!this.ended) this.setState('subscribing')
  }

  /** Subscribes (again) from `lastSeq`, if a socket is open. */
  sendSub(): void {
    if (this.ended || this.server !== 'idle' || !this.host.channel.isOpen) return
    const id = this.host.channel.nextId()
    try {
      if (!this.host.channel.send({ type: 'sub', topic: this.topic, since: this.lastSeq, id })) return
    } catch (e) {
      this.host.channel.report(e)
      return
    }
    this.subId = id
    this.server = 'subscribing'
    this.setState('subscribing')
  }

  // ---- server frames ----------------------------------------------------------------------

  onEvent(frame: Extract<ServerFrame, { type: 'event' }>): void {
    if (this.ended) return
    if (this.lastSeq !== undefined && frame.seq <= this.lastSeq) return
    this.lastSeq = frame.seq
    const event: TopicEvent = { topic: frame.topic, seq: frame.seq, at: frame.at, data: frame.data }
    if (this.latestValue) this.lastEvent = event
    for (const l of [...this.locals]) l.deliver(event)
  }

  onGap(from: number, to: number): void {
    if (this.ended) return
    if (this.lastSeq !== undefined && to <= this.lastSeq) return
    this.lastSeq = to
    for (const l of [...this.locals]) l.gap(from, to)
  }

  onSubscribed(seq: number): void {
    if (this.ended || this.server !== 'subscribing') return
    this.server = 'live'
    this.retryAttempt = 0
    this.retriedDuplicate = false
    this.lastSeq = Math.max(this.lastSeq ?? 0, seq)
    for (const l of [...this.locals]) l.caughtUpTo(seq)
    this.setState('live')
    this.topicPresence.goLive()
  }

  onPresence(entries: PresenceEntry[]): void {
    if (!this.ended) this.topicPresence.apply(entries)
  }

  onUnsubscribed(reason: string): void {
    if (this.ended) return
    this.server = 'idle'
    this.subId = undefined
    if (this.replayFailed) {
      // The store failed during the replay: subscribe again from what we have.
      this.replayFailed = false
      this.topicPresence.goIdle()
      this.setState('subscribing')
      this.scheduleResub()
      return
    }
    this.end('revoked', new GoOnlineError('revoked', reason))
  }

  onError(frame: ErrorFrame): void {
    if (this.ended) return
    const error = new GoOnlineError(frame.code, frame.message, { field: frame.field, retryAfter: frame.retry_after })
    if (frame.re !== undefined) {
      // A refused `sub` (an old one's answer is moot).
      if (frame.re !== this.subId) return
      this.server = 'idle'
      this.subId = undefined
      switch (frame.code) {
        case 'unavailable':
          // The store or access check is down, or the node is draining.
          this.scheduleResub()
          return
        case 'invalid_argument':
          // `since` is past the server's newest event: its topic is not the
          // one we followed (restored, replaced). Start over without `since`.
          if (this.lastSeq !== undefined) {
            this.lastSeq = undefined
            this.lastEvent = undefined
            for (const l of [...this.locals]) l.reset()
            this.sendSub()
            return
          }
          break
        case 'already_subscribed':
          // Our bookkeeping and the server's disagree: end the server's and
          // subscribe again, once. The presence we hold is the old
          // subscription's: the new one's set comes after `subscribed`.
          if (!this.retriedDuplicate) {
            this.retriedDuplicate = true
            this.topicPresence.goIdle()
            this.host.unsub(this.topic)
            this.sendSub()
            return
          }
          this.host.unsub(this.topic)
          break
        default:
      }
      this.end(frame.code, error)
      return
    }
    if (frame.code === 'unavailable' && this.server === 'subscribing') {
      // The replay failed; `unsubscribed` follows.
      this.replayFailed = true
      return
    }
    // `not_subscribed`: a presence frame raced the end of the subscription.
    if (frame.code === 'not_subscribed') return
    // A refused presence state (too large, anonymous): the subscription is
    // fine; the state is not sent again until a new one is set.
    this.topicPresence.refused()
    this.host.channel.report(error)
  }

  // ---- ending -------------------------------------------------------------------------------

  /** Ends for good: every local subscriber gets `onEnd`. */
  end(reason: EndReason, error: GoOnlineError): void {
    if (this.ended) return
    this.ended = true
    this.server = 'idle'
    this.clearTimers()
    this.state = 'ended'
    this.host.forget(this)
    const locals = [...this.locals]
    this.locals.clear()
    for (const l of locals) l.end(reason, error)
  }

  private setState(state: SubscriptionStatus): void {
    this.state = state
    for (const l of [...this.locals]) l.statusChanged(state)
  }

  private scheduleResub(): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined
        this.sendSub()
      },
      100 + backoffDelay(this.retryAttempt++, { baseMs: 500, maxMs: 10_000 }),
    )
  }

  /** Stops every timer, presence renewal included. */
  private clearTimers(): void {
    clearTimeout(this.retryTimer)
    clearTimeout(this.lingerTimer)
    this.retryTimer = this.lingerTimer = undefined
    this.topicPresence.goIdle()
  }
}
