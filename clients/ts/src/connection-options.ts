//! What the connection is configured with, and the status it reports.

import type { AuthFn } from './auth.js'
import type { BackoffOptions } from './backoff.js'
import type { Platform } from './platform.js'
import type { WebSocketConstructor } from './socket.js'

/** The connection's state, as the app shows it. */
export type Status = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'unauthorized' | 'closed'

/** How the connection is made and kept (the connection part of `ClientOptions`). */
export interface ConnectionOptions {
  /** The server, e.g. `wss://api.example.com` (`/v1/ws` is appended unless present). */
  url: string
  /**
   * Called on every connect and whenever the server asks for a new token;
   * returns the access token, or `null` for an anonymous connection. Throw
   * `UnauthorizedError` to stop connecting (status `unauthorized`).
   */
  auth?: AuthFn
  /** The WebSocket constructor. Default: the global `WebSocket`, looked up when connecting. */
  WebSocket?: WebSocketConstructor
  /** Online and foreground signals: `webPlatform()`, `reactNativePlatform(...)`. Default: none. */
  platform?: Platform
  /** Reconnect backoff (full jitter): `{ baseMs: 500, maxMs: 30000 }`. */
  reconnect?: BackoffOptions
  /** Ping interval (ms). Default: the server's `heartbeat_ms`, at most 15 000. */
  heartbeatMs?: number
  /** A link that sends nothing within this long after a ping is dead (ms). Default 12 000. */
  pongTimeoutMs?: number
  /** Giving up on a socket that has not finished its handshake (ms). Default 10 000. */
  connectTimeoutMs?: number
  /** Sent in `hello.client`. */
  clientName?: string
}

/** What the connection needs besides the options. */
export interface ConnectionDeps extends ConnectionOptions {
  report: (error: unknown) => void
}

