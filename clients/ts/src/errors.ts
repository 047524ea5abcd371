//! The error type every SDK promise rejects with, carrying the server's code.

import type { WireError } from './frames.js'

/** Codes the server sends (docs/protocol.md §6.1, §9.2), plus the SDK's own. */
export type ErrorCode =
  | 'bad_frame'
  | 'unknown_type'
  | 'hello_required'
  | 'unsupported_version'
  | 'doc_not_open'
  | 'doc_already_open'
  | 'invalid_doc_name'
  | 'invalid_update'
  | 'frame_too_large'
  | 'doc_too_large'
  | 'too_many_docs'
  | 'forbidden'
  | 'unauthorized'
  | 'not_found'
  | 'invalid_argument'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'internal'
  | 'unknown_topic'
  | 'not_subscribed'
  | 'already_subscribed'
  | 'too_many_subscriptions'
  // The SDK's own codes:
  /** The call did not get an answer within its `timeoutMs`; it may or may not have run. */
  | 'timeout'
  /** The connection dropped after the call was sent and it had no idempotency key to retry with: it may or may not have run. */
  | 'connection_lost'
  /** The client is offline and the call was made with `whileOffline: 'fail'`. */
  | 'offline'
  /** `client.close()` was called, or the client stopped for good (unauthorized). */
  | 'closed'
  /** The call was cancelled through its `AbortSignal`. */
  | 'aborted'
  /** React bindings: a misuse the SDK refused before sending (e.g. a queued call without key); `cause` has the original error. */
  | 'client_error'
  /** React bindings: a `useChannel` action while its `chat` is null. */
  | 'not_open'

/** An error from the server (or the SDK), with a stable machine-readable `code`. */
export class GoOnlineError extends Error {
  override readonly name = 'GoOnlineError'
  /** A stable code: one of {@link ErrorCode}, or a newer server code. */
  readonly code: ErrorCode | (string & {})
  /** For `invalid_argument`: the dotted path of the offending parameter. */
  readonly field?: string
  /** For `rate_limited`: seconds before a retry may succeed. */
  readonly retryAfter?: number

  constructor(code: ErrorCode | (string & {}), message: string, extra: { field?: string; retryAfter?: number } = {}) {
    super(message)
    this.code = code
    if (extra.field !== undefined) this.field = extra.field
    if (extra.retryAfter !== undefined) this.retryAfter = extra.retryAfter
  }

  /** Builds the error from a server error body. */
  static fromWire(e: WireError): GoOnlineError {
    return new GoOnlineError(e.code, e.message, { field: e.field, retryAfter: e.retry_after })
  }
}

/**
 * Throw this from the `auth` function to say "nobody is signed in; stop
 * connecting". The client goes to status `unauthorized` and retries no more
 * until `client.reconnect()`.
 */
export class UnauthorizedError extends Error {
  override readonly name = 'UnauthorizedError'
}

/**
 * Whether `e` is a {@link GoOnlineError}, also across bundles (the React entry
 * and the core may be loaded as separate copies, where `instanceof` fails).
 */
export function isGoOnlineError(e: unknown): e is GoOnlineError {
  return (
    e instanceof GoOnlineError ||
    (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'GoOnlineError' && typeof (e as { code?: unknown }).code === 'string')
  )
}
