//! `useTopic`: the latest events of a topic (docs/protocol.md §10) as React
//! state, with the subscription's status, gap and presence.
//!
//! Subscribed in an effect and unsubscribed in its cleanup. The SDK shares one
//! server subscription per topic and keeps it a moment after the last local
//! subscriber leaves (`topicLingerMs`), so StrictMode's double mount and quick
//! remounts do not unsubscribe and replay on the wire; reconnects resume from
//! the last `seq` by themselves.

import { useCallback, useEffect, useRef, useState } from 'react'
import type { Client } from '../client.js'
import type { GoOnlineError } from '../errors.js'
import type { PresenceEntry } from '../frames.js'
import type { EndReason, Subscription, SubscriptionStatus, TopicEvent, TopicGap } from '../topics.js'
import { useClient } from './context.js'
import { useStore } from './store.js'

export interface UseTopicOptions {
  /** The `seq` of the last event you already have (read when subscribing; a change alone does not resubscribe). */
  since?: number
  /** How many of the latest events to keep. Default 100. */
  limit?: number
}

export interface UseTopicResult<D> {
  /** The latest events (at most `limit`), oldest first. */
  events: ReadonlyArray<TopicEvent<D>>
  /** `subscribing` (also before the effect ran, and while the topic is null), `live`, or `ended`. */
  status: SubscriptionStatus
  /** The last range of events the server no longer keeps, if any was skipped. */
  gap: TopicGap | null
  /** The error that ended the subscription (`forbidden`, `unknown_topic`…), once `status` is `ended`. */
  error: GoOnlineError | null
  /** Why it ended (`forbidden`, `revoked`, `closed`…), or null. */
  endReason: EndReason | null
  /** The other connections' presence in the topic. */
  presence: PresenceEntry[]
  /** Sets this connection's presence in the topic (stable; does nothing before the subscription exists). */
  setPresence: (state: unknown) => void
  /** The subscription itself (null before the effect ran). */
  subscription: Subscription | null
}

interface TopicState<D> {
  client: Client
  topic: string
  sub: Subscription
  events: ReadonlyArray<TopicEvent<D>>
  gap: TopicGap | null
  error: GoOnlineError | null
  endReason: EndReason | null
}

const NO_PRESENCE: PresenceEntry[] = []
const NO_EVENTS: ReadonlyArray<never> = Object.freeze([])

/**
 * Follows `topic` while the component is mounted (null: none), keeping its
 * latest `limit` events. A change of `topic` starts over with the new topic.
 */
export function useTopic<D = Record<string, unknown>>(topic: string | null | undefined, opts: UseTopicOptions = {}): UseTopicResult<D> {
  const client = useClient()
  const [state, setState] = useState<TopicState<D> | null>(null)
  const optsRef = useRef(opts)
  optsRef.current = opts

  useEffect(() => {
    if (topic == null) {
      setState(null)
      return
    }
    let current = true
    // Kept here, not read back from state: a replay delivers many events in
    // one task and each must see the ones before it. Callbacks may also come
    // while `subscribe` is still running, before `sub` is assigned.
    let sub: Subscription | null = null
    let events: ReadonlyArray<TopicEvent<D>> = NO_EVENTS
    let gap: TopicGap | null = null
    let error: GoOnlineError | null = null
    let endReason: EndReason | null = null
    const publish = () => {
      if (current && sub) setState({ client, topic, sub, events, gap, error, endReason })
    }
    sub = client.subscribe(
      topic,
      {
        since: optsRef.current.since,
        onGap: (g) => {
          gap = g
          publish()
        },
        onReset: () => {
          // The server's topic started over: what we kept is stale.
          events = NO_EVENTS
          gap = null
          publish()
        },
        onEnd: (reason, e) => {
          endReason = reason
          error = e
          publish()
        },
      },
      (event) => {
        const limit = Math.max(1, optsRef.current.limit ?? 100)
        const next = [...events, event as TopicEvent<D>]
        events = next.length > limit ? next.slice(next.length - limit) : next
        publish()
      },
    )
    publish()
    return () => {
      current = false
      sub?.unsubscribe()
    }
  }, [client, topic])

  // What is held may belong to a previous topic until the effect ran again.
  const live = state && state.client === client && state.topic === topic ? state : null
  const sub = live?.sub ?? null
  const status = useStore(sub?.status, 'subscribing' as const)
  const presence = useStore(sub?.presence, NO_PRESENCE)
  const setPresence = useCallback((value: unknown) => sub?.setPresence(value), [sub])
  return {
    events: live?.events ?? NO_EVENTS,
    status,
    gap: live?.gap ?? null,
    error: live?.error ?? null,
    endReason: live?.endReason ?? null,
    presence,
    setPresence,
    subscription: sub,
  }
}
