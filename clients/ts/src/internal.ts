//! The contract between the connection and the features that ride on it
//! (documents, topics, calls). Not exported from the package.

import type { ClientFrame, Limits, ServerFrame } from './frames.js'

/** What a feature may do with the connection. */
export interface Channel {
  /** Whether the current socket finished its handshake (`welcome` arrived). */
  readonly isOpen: boolean
  /** Limits announced in the last `welcome` (defaults before the first). */
  readonly limits: Limits
  /**
   * Sends a frame on the current socket. Returns false, sending nothing, when
   * no socket is open (the feature resends what it needs in `onOpen`).
   * Throws a `GoOnlineError('frame_too_large')` for a frame over
   * `limits.max_frame_bytes` without sending it.
   */
  send(frame: ClientFrame): boolean
  /** A fresh correlation id (unique for the client's life, increasing). */
  nextId(): number
  /** Reports an exception thrown by a user callback (the client's `error` event). */
  report(error: unknown): void
}

/** A part of the client that rides on the connection. */
export interface Feature {
  /**
   * A socket finished its handshake: re-open documents, re-subscribe topics,
   * resend queued calls. Called for the first socket too.
   */
  onOpen(): void
  /** The socket is gone (any reason). Per-socket state is void. */
  onClose(): void
  /** A server frame. Returns true if it belonged to this feature. */
  onFrame(frame: ServerFrame): boolean
  /** The client is closing for good: release everything. */
  destroy(): void
}
