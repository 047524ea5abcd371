//! One local subscription: what `client.subscribe` returns. It rides on its
//! topic's shared server subscription (`entry.ts`) and keeps its own cursor, so
//! several subscribers to one topic each get every event after their own
//! `since`, exactly once.
//!
//! A subscriber that joins a shared subscription which is already past its
//! `since` first catches up through the `topic.events` operation (pages of
//! 500), then takes the shared live stream; it ignores live events while it
//! catches up, because the pages it reads end at or after them.

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
    this.cursor = Math.max(this.cursor ?? 0, seq)
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
    const explicit = this.cursor !== undefined
    let after = this.cursor ?? 0
    for (;;) {
      const head = this.entry.lastSeq
      if (head === undefined || after >= head) break
      let page: EventsPage
      try {
        page = (await this.call('topic.events', { topic: this.topic, after, limit: PAGE }, { whileOffline: 'fail' })) as EventsPage
      } catch (e) {
        if (!live()) return
        const code = e instanceof GoOnlineError ? e.code : ''
        if (code === 'closed') return
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
        this.cursor = Math.max(this.cursor ?? 0, head)
        break
      }
      after = next
    }
    // Synchronously with the check above: no live event slipped in between.
    this.cursor = Math.max(this.cursor ?? 0, after)
    this.catchingUp = false
    this.status.set(this.entry.state)
  }
}
