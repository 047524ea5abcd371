//! Native protocol frames (docs/protocol.md §2, §8.2, §10.2) as TypeScript types.
//! Field names are the wire names. Optional fields are left out (`undefined`),
//! never sent as nil.

/** Frames the client sends. */
export type ClientFrame =
  | { type: 'hello'; version: number; client?: string; token?: string }
  | { type: 'auth'; token: string }
  | { type: 'call'; id: number; method: string; params?: unknown; idempotency_key?: string }
  | { type: 'open'; doc: string; id?: number }
  | { type: 'close'; doc: string }
  | { type: 'sync'; doc: string; data: Uint8Array; id?: number }
  | { type: 'awareness'; doc: string; data: Uint8Array }
  | { type: 'sub'; topic: string; since?: number; id?: number }
  | { type: 'unsub'; topic: string }
  | { type: 'presence'; topic: string; state: unknown }
  | { type: 'ping'; ts?: number }

/** The error body shared by `error` frames, `reply` errors and REST (§9.2). */
export interface WireError {
  code: string
  message: string
  field?: string
  retry_after?: number
}

/** One entry of a topic `presence` frame. */
export interface PresenceEntry {
  client: number
  user?: string
  state: unknown
}

/** Limits announced in `welcome`. */
export interface Limits {
  max_frame_bytes: number
  max_doc_bytes: number
  max_open_docs: number
}

/** Frames the server sends. Unknown types are dropped by the decoder. */
export type ServerFrame =
  | {
      type: 'welcome'
      version: number
      session: string
      server: string
      heartbeat_ms: number
      limits: Limits
      user?: string
      expires_at?: number
    }
  | { type: 'authenticated'; user: string; expires_at: number }
  | { type: 'reauth'; expires_at: number; deadline: number }
  | { type: 'reply'; id: number; result?: unknown; error?: WireError }
  | { type: 'access'; doc: string; mode: 'read_write' | 'read_only' | 'none'; reason?: string }
  | { type: 'sync'; doc: string; data: Uint8Array }
  | { type: 'awareness'; doc: string; data: Uint8Array }
  | { type: 'ack'; doc: string; id: number }
  | { type: 'pong'; ts?: number }
  | ({ type: 'error'; re?: number; doc?: string; topic?: string } & WireError)
  | { type: 'event'; topic: string; seq: number; at: number; data: Record<string, unknown> }
  | { type: 'gap'; topic: string; from: number; to: number }
  | { type: 'subscribed'; topic: string; seq: number }
  | { type: 'unsubscribed'; topic: string; reason: string }
  | { type: 'presence'; topic: string; entries: PresenceEntry[] }

export type ServerFrameType = ServerFrame['type']

/** Native protocol version spoken by this SDK. */
export const PROTOCOL_VERSION = 1
