//! Topics (docs/protocol.md §10): `client.subscribe(topic, { since }, handler)`.
//!
//! One server subscription per topic per connection, shared by every local
//! subscription to it (`topics/entry.ts`); each local subscription keeps its own
//! cursor (`topics/local.ts`). This module routes the topic frames of the
//! socket to them.
//!
//! What a subscriber can rely on:
//! - every event after its `since`, in `seq` order, exactly once — across
//!   reconnects (the shared subscription resumes with `since = lastSeq`) and
//!   whether it was first on the topic or joined later (a late joiner with an
//!   older `since` reads the missing range through `topic.events`, then takes
//!   the live stream);
//! - `onGap` for events no longer kept (its `lastSeq` moves past them);
//! - `onEnd` when the server refuses or ends the subscription for good
//!   (`forbidden`, `unauthorized`, `unknown_topic`, `too_many_subscriptions`,
//!   `revoked`); after a store failure (`unavailable`) it subscribes again by
//!   itself, with backoff;
//! - `onReset` when the server has no event as recent as `since` (its topic was
//!   reset): it starts over from the first event kept.
//! Latest-value (`metrics`) topics deliver the newest value; `seq` may skip.

import type { CallFn } from './calls.js'
import { GoOnlineError } from './errors.js'
import type { ServerFrame } from './frames.js'
import type { Channel, Feature } from './internal.js'
import { TopicEntry, type EntryHost } from './topics/entry.js'
import { LocalSubscription } from './topics/local.js'
import type { SubscribeOptions, Subscription, TopicEvent } from './topics/types.js'

export type {
  EndReason,
  SubscribeOptions,
  Subscription,
  SubscriptionStatus,
  TopicEvent,
  TopicGap,
} from './topics/types.js'
export { PRESENCE_RENEW_MS } from './topics/presence.js'

export interface TopicsOptions {
  /** How long a topic stays subscribed after its last local subscriber left (ms). Default 1 000. */
  lingerMs?: number
}

export class Topics implements Feature {
  private readonly entries = new Map<string, TopicEntry>()
  /**
   * `unsub` frames sent per topic and not yet answered. Until the answer, the
   * topic's frames belong to the old subscription and are dropped, so a new
   * one (subscribed again right after) is not fed the old one's events.
   */
  private readonly unsubbing = new Map<string, number>()
  private readonly host: EntryHost
  private destroyed = false

  constructor(
    private readonly channel: Channel,
    private readonly call: CallFn,
    opts: TopicsOptions = {},
  ) {
    this.host = {
      channel,
      lingerMs: opts.lingerMs ?? 1_000,
      forget: (entry) => {
        if (this.entries.get(entry.topic) === entry) this.entries.delete(entry.topic)
      },
      unsub: (topic) => {
        try {
          if (channel.send({ type: 'unsub', topic })) this.unsubbing.set(topic, (this.unsubbing.get(topic) ?? 0) + 1)
        } catch (e) {
          channel.report(e)
        }
      },
    }
  }

  /**
   * Follows `topic`, delivering every event after `opts.since` to `handler`
   * (see the module comment for the guarantees). Call `unsubscribe()` on the
   * result when done.
   */
  subscribe(topic: string, opts: SubscribeOptions, handler: (event: TopicEvent) => void): Subscription {
    const report = (e: unknown) => this.channel.report(e)
    let entry = this.entries.get(topic)
    const fresh = !entry || entry.ended
    if (!entry || entry.ended) {
      entry = new TopicEntry(topic, opts.since, this.host, report)
      if (!this.destroyed) this.entries.set(topic, entry)
    }
    const local = new LocalSubscription(entry, opts, handler, this.call, report)
    if (this.destroyed) {
      local.end('closed', new GoOnlineError('closed', 'the client is closed'))
      return local
    }
    entry.add(local, opts.since)
    if (fresh) entry.sendSub()
    return local
  }

  /** Reports an exception from a user callback (for the chat helpers built on topics). */
  report(error: unknown): void {
    this.channel.report(error)
  }

  onOpen(): void {
    this.unsubbing.clear()
    for (const entry of [...this.entries.values()]) entry.opened()
  }

  onClose(): void {
    this.unsubbing.clear()
    for (const entry of this.entries.values()) entry.closed()
  }

  onFrame(frame: ServerFrame): boolean {
    switch (frame.type) {
      case 'event':
      case 'gap':
      case 'subscribed':
      case 'presence':
      case 'unsubscribed':
        break
      case 'error':
        // Errors about a document or a call are not ours.
        if (frame.topic === undefined) return false
        break
      default:
        return false
    }
    const topic = frame.topic as string
    const pending = this.unsubbing.get(topic) ?? 0
    if (pending > 0) {
      // Frames of a subscription we ended: only its end matters.
      if (frame.type === 'unsubscribed' || (frame.type === 'error' && frame.code === 'not_subscribed')) {
        if (pending === 1) this.unsubbing.delete(topic)
        else this.unsubbing.set(topic, pending - 1)
      }
      return true
    }
    const entry = this.entries.get(topic)
    if (!entry) return true
    switch (frame.type) {
      case 'event':
        entry.onEvent(frame)
        break
      case 'gap':
        entry.onGap(frame.from, frame.to)
        break
      case 'subscribed':
        entry.onSubscribed(frame.seq)
        break
      case 'presence':
        entry.onPresence(frame.entries)
        break
      case 'unsubscribed':
        entry.onUnsubscribed(frame.reason)
        break
      case 'error':
        entry.onError(frame)
        break
    }
    return true
  }

  destroy(): void {
    this.destroyed = true
    const error = new GoOnlineError('closed', 'the client is closed')
    for (const entry of [...this.entries.values()]) entry.end('closed', error)
    this.entries.clear()
  }
}
