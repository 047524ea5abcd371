//! The public types of topic subscriptions (docs/protocol.md §10): what
//! `client.subscribe` takes and gives back. Kept apart from the classes so the
//! topic modules can share them without import cycles.

import type { GoOnlineError } from '../errors.js'
import type { PresenceEntry } from '../frames.js'
import type { ReadableStore } from '../store.js'

/** One event of a topic, delivered to a subscription's handler in `seq` order. */
export interface TopicEvent<D = Record<string, unknown>> {
  topic: string
  /** The event's sequence number in its topic (1, 2, 3…). */
  seq: number
  /** When it was appended (epoch ms). */
  at: number
  data: D
}

/** Events `from..=to` are no longer kept by the server (older than the topic's retention). */
export interface TopicGap {
  from: number
  to: number
}

/**
 * Why a subscription ended, as a stable code:
 * - `forbidden`, `unauthorized`, `unknown_topic`, `too_many_subscriptions`,
 *   or another server code: the server refused the subscription;
 * - `revoked`: the server ended it (the user's access changed, the chat was
 *   removed); the server's words are in the error's message;
 * - `closed`: the client was closed.
 */
export type EndReason = 'forbidden' | 'unauthorized' | 'unknown_topic' | 'too_many_subscriptions' | 'revoked' | 'closed' | (string & {})

export interface SubscribeOptions {
  /**
   * The `seq` of the last event you already have: events after it are
   * delivered. Leave it out to get every event the server keeps for the topic
   * (for latest-value `metrics` topics: the newest one).
   */
  since?: number
  /**
   * Events `from..=to` were missed and are no longer kept. Reload what you show
   * from a non-stream source (a chat's history page) and keep going: the events
   * that follow are delivered as usual.
   */
  onGap?: (gap: TopicGap) => void
  /**
   * The subscription ended for good (see {@link EndReason}); no more events
   * come. Subscribe again to retry.
   */
  onEnd?: (reason: EndReason, error: GoOnlineError) => void
  /**
   * The server has no event `since` (nor the one after `lastSeq`): its topic
   * was reset (a restored or replaced server), or `since` was wrong. The
   * subscription starts over: `lastSeq` is forgotten and every event the server
   * keeps is delivered again, from its first. Drop what you built from earlier
   * events. Without `onReset` the events are delivered all the same.
   */
  onReset?: () => void
}

/** `subscribing` until the replay is over, `live` after, `ended` for good. */
export type SubscriptionStatus = 'subscribing' | 'live' | 'ended'

/**
 * One local subscription to a topic. Every local subscription to the same
 * topic shares one server subscription and one presence.
 */
export interface Subscription {
  readonly topic: string
  /**
   * The `seq` of the last event delivered to this subscription (or the `since`
   * it started from); `undefined` before anything. Persist it to resume a
   * later session with `since`.
   */
  readonly lastSeq: number | undefined
  /**
   * `subscribing` while the server replays what was missed (again after each
   * reconnect), `live` once every later event arrives as it happens, `ended`
   * after `onEnd`.
   */
  readonly status: ReadableStore<SubscriptionStatus>
  /**
   * The other connections' presence in the topic (`{client, user, state}`;
   * one user may have several connections), in arrival order. This
   * connection's own entry is not included: the server does not echo it.
   * Empty while disconnected.
   */
  readonly presence: ReadableStore<PresenceEntry[]>
  /**
   * Sets this connection's presence in the topic (any JSON value up to 1 KiB;
   * `null` clears it). Sent once the subscription is live, renewed every 20 s
   * (the server forgets it after 30 s), sent again after a reconnect. The
   * server keeps one state per connection and topic: of the local
   * subscriptions holding a state, the one that set it last wins; when it
   * clears its state or unsubscribes, the previous one's shows again.
   */
  setPresence(state: unknown): void
  /**
   * Stops delivering to this subscription. The server subscription ends when
   * the topic's last local subscription leaves, after a short linger
   * (`topicLingerMs`, 1 s) so an unmount/mount (React StrictMode) does not
   * unsubscribe and replay.
   */
  unsubscribe(): void
}
