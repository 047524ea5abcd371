//! One local subscription: what `client.subscribe` returns. It rides on its
//! topic's shared server subscription (`entry.ts`) and keeps its own cursor, so
//! several subscribers to one topic each get every event after their own
//! `since`, exactly once.
//!
//! A subscriber that joins a shared subscription which is already past its
//! `since` first catches up through the `topic.events` operation (pages of
//! 500), then takes the shared live stream; it ignores live events while it
//! catches up, because the pages it reads end at or after them. One whose
//! `since` the stream has not reached checks it the same way: a `since` the
//! server never had (its topic was reset) starts it over (`onReset`), as it
//! would a first subscriber, rather than skipping events until `since`.

import { backoffDelay } from '../backoff.js'
import type { CallFn } from '../calls.js'
import { GoOnlineError } from '../errors.js'
import type { EventsPage } from '../methods.js'
import { ValueStore, type ReadableStore } from '../store.js'
import type { TopicEntry } from './entry.js'
import type { EndReason, SubscribeOptions, Subscription, SubscriptionStatus, TopicEvent } from './types.js'
import type { PresenceEntry } from '../frames.js'

/** Errors after which a catch-up is pointless to retry: the subscription ends. */
const FINAL = new Set(['forbidden', 'unauthorized', 'not_found', 'unknown_topic', 'invalid_argument'])
const PAGE = 500

export class LocalSubscription implements Subscription {
  readonly topic: string
  readonly status: ValueStore<SubscriptionStatus>
  private cursor: number | undefined
  /** Reading missed events through `topic.events`; live events are ignored meanwhile. */
  private catchingUp = false
  /** Unsubscribed or ended: nothing more is delivered. */
  private gone = false
  /** Bumped to cancel a running catch-up. */
  private generation = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private retryAttempt = 0

  constructor(
    private readonly entry: TopicEntry,
    private readonly opts: SubscribeOptions,
    private readonly handler: (event: TopicEvent) => void,
    private readonly call: CallFn,
    private readonly report: (e: unknown) => void,
  ) {
    this.topic = entry.topic
    this.cursor = opts.since
    this.status = new ValueStore<SubscriptionStatus>('subscribing', report)
  }

  get lastSeq(): number | undefined {
    return this.cursor
  }

  get presence(): ReadableStore<PresenceEntry[]> {
    return this.entry.presence
  }

  setPresence(state: unknown): void {
    if (!this.gone) this.entry.setPresence(this, state)
  }

  unsubscribe(): void {
    if (this.gone) return
    this.stop()
    this.status.set('ended')
    this.entry.leave(this)
  }

  // ---- driven by the entry ------------------------------------------------------------

  /** Takes the shared stream from here on (events after `cursor`). */
  ride(status: SubscriptionStatus): void {
    this.status.set(status)
  }

  /** Reads what the shared stream is already past, then takes it. */
  startCatchUp(): void {
    this.catchingUp = true
    this.status.set('subscribing')
    void this.catchUp(++this.generation)
  }

  /** A connection opened: a catch-up waiting to retry goes now. */
  kick(): void {
    if (!this.catchingUp || this.retryTimer === undefined) return
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    void this.catchUp(++this.generation)
  }

  /** The shared status changed. */
  statusChanged(status: SubscriptionStatus): void {
    if (!this.gone && !this.catchingUp) this.status.set(status)
  }

  /** An event of the shared stream (already deduplicated by the entry). */
  deliver(event: TopicEvent): void {
    if (this.gone || this.catchingUp) return
    this.handle(event)
  }

  /** The shared stream says events `from..=to` are gone. */
  gap(from: number, to: number): void {
    if (this.gone || this.catchingUp) return
    if (this.cursor !== undefined && this.cursor >= to) return
    const start = Math.max(from, (this.cursor ?? 0) + 1)
    this.cursor = to
    this.safely(() => this.opts.onGap?.({ from: start, to }))
  }

  /** The server replayed everything up to `seq` (`subscribed`). */
  caughtUpTo(seq: number): void {
    if (this.gone || this.catchingUp) return
    if (this.cursor !== undefined && this.cursor > seq && !this.entry.latestValue) {
      // The replay ended before our `since`: ask the server whether it has
      // it (an event may just be on its way); if not, we start over.
      this.startCatchUp()
      return
    }
    this.cursor = Math.max(this.cursor ?? 0, seq)
  }

  /**
   * Latest-value topics: reads the newest event (at or after `seq`) once and
   * delivers it, for a subscriber that joined a stream with none to hand over.
   */
  async fetchNewest(seq: number): Promise<void> {
    let after = Math.max(0, seq - 1)
    for (let i = 0; i < 2; i++) {
      let page: EventsPage
      try {
        page = (await this.call('topic.events', { topic: this.topic, after, limit: 1 }, { whileOffline: 'fail' })) as EventsPage
      } catch {
        // A live event will bring a value anyway.
        return
      }
      if (this.gone) return
      const e = page.events[0]
      if (e && (e.seq >= page.last_seq || i === 1)) {
        const event: TopicEvent = { topic: e.topic, seq: e.seq, at: e.at, data: e.data }
        this.entry.offerNewest(event)
        this.deliver(event)
        return
      }
      // The stream was behind the server: read its newest.
      if (page.last_seq <= after + 1) return
      after = page.last_seq - 1
    }
  }

  /** The server's topic starts over (see `onReset`). */
  reset(): void {
    if (this.gone) return
    this.stopCatchUp()
    this.cursor = undefined
    this.safely(() => this.opts.onReset?.())
  }

  /** The subscription ended for good. */
  end(reason: EndReason, error: GoOnlineError): void {
    if (this.gone) return
    this.stop()
    this.status.set('ended')
    this.safely(() => this.opts.onEnd?.(reason, error))
  }

  // ---- internals ------------------------------------------------------------------------

  private handle(event: TopicEvent): void {
    if (this.cursor !== undefined && event.seq <= this.cursor) return
    this.cursor = event.seq
    this.safely(() => this.handler(event))
  }

  private safely(fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.report(e)
    }
  }

  private stop(): void {
    this.gone = true
    this.stopCatchUp()
  }

  private stopCatchUp(): void {
    this.catchingUp = false
    this.generation += 1
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }

  private async catchUp(gen: number): Promise<void> {
    const live = () => gen === this.generation && !this.gone
    // Without `since` the subscriber asked for what is kept: a trimmed start is no gap.
    let explicit = this.cursor !== undefined
    let after = this.cursor ?? 0
    // Past the stream's head: ask once whether the server has `since` at all.
    let check = explicit && this.entry.lastSeq !== undefined && after > this.entry.lastSeq
    for (;;) {
      const head = this.entry.lastSeq
      if (!check && (head === undefined || after >= head)) break
      let page: EventsPage
      try {
        page = (await this.call('topic.events', { topic: this.topic, after, limit: PAGE }, { whileOffline: 'fail' })) as EventsPage
      } catch (e) {
        if (!live()) return
        const code = e instanceof GoOnlineError ? e.code : ''
        if (code === 'closed') return
        if (code === 'invalid_argument' && after > 0) {
          // `after` is past the server's newest event: its topic is not the
          // one `since` was about. Start over from its first event.
          this.cursor = undefined
          this.safely(() => this.opts.onReset?.())
          if (!live()) return
          explicit = check = false
          after = 0
          continue
        }
        if (FINAL.has(code)) {
          const error = e as GoOnlineError
          this.end(code, error)
          this.entry.leave(this)
          return
        }
        // Offline, timed out, unavailable: again later (at once on reconnect).
        this.retryTimer = setTimeout(
          () => {
            this.retryTimer = undefined
            if (live()) void this.catchUp(++this.generation)
          },
          100 + backoffDelay(this.retryAttempt++, { baseMs: 500, maxMs: 10_000 }),
        )
        return
      }
      if (!live()) return
      this.retryAttempt = 0
      check = false
      if (page.gap && explicit && (this.cursor ?? 0) < page.gap.to) {
        const gap = { from: Math.max(page.gap.from, (this.cursor ?? 0) + 1), to: page.gap.to }
        this.cursor = gap.to
        this.safely(() => this.opts.onGap?.(gap))
        if (!live()) return
      }
      for (const e of page.events) {
        this.handle({ topic: e.topic, seq: e.seq, at: e.at, data: e.data })
        // The handler may have unsubscribed.
        if (!live()) return
      }
      const next = Math.max(after, page.next_after)
      if (next <= after && page.events.length === 0) {
        // No progress: the store has nothing up to the shared head (it cannot
        // happen unless events were dropped); take the stream from its head.
        this.cursor = Math.max(this.cursor ?? 0, head ?? 0)
        break
      }
      after = next
    }
    // Synchronously with the check above: no live event slipped in between.
    if (this.cursor !== undefined || after > 0) this.cursor = Math.max(this.cursor ?? 0, after)
    this.catchingUp = false
    this.status.set(this.entry.state)
  }
}
