//! What a client does after its socket closed, by close code
//! (docs/protocol.md §12.2): 4401 asks `auth` once more for a fresh token and
//! stops as `unauthorized` if that is refused too; 4400 (a client bug) stops;
//! everything else reconnects with backoff — at once after a drain (1001),
//! with a long wait when the user has too many connections (1013).

/** The next step after a close. */
export type AfterClose =
  | { kind: 'unauthorized' }
  | { kind: 'refresh' }
  | { kind: 'stop' }
  /** Reconnect with backoff; `attempt`: restart the backoff, or raise it to at least this attempt. */
  | { kind: 'retry'; attempt?: 'reset' | number }

/**
 * `code` of a socket that was `wasOpen` (had its `welcome`); `refusal` is the
 * code of an `error` that came before `welcome`; `rejected` says the token just
 * used was already a fresh one asked for after a 4401.
 */
export function afterClose(code: number, wasOpen: boolean, refusal: string | undefined, rejected: boolean): AfterClose {
  // A proxy may hide the server's close code; the error before it tells.
  if (!wasOpen && (code === 1006 || code === 1005)) {
    if (refusal === 'unauthorized') code = 4401
    else if (refusal === 'unsupported_version' || refusal === 'hello_required' || refusal === 'bad_frame') code = 4400
  }
  if (code === 4401) return { kind: rejected ? 'unauthorized' : 'refresh' }
  if (code === 4400) return { kind: 'stop' }
  // A draining node: another one is ready.
  if (wasOpen && code === 1001) return { kind: 'retry', attempt: 'reset' }
  // Too many connections for this user: wait long, others must close first.
  if (code === 1013) return { kind: 'retry', attempt: 6 }
  return { kind: 'retry' }
}
