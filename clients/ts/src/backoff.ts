//! Reconnect delays: exponential backoff with full jitter, capped, so a fleet of
//! clients that lost one server does not come back in lockstep.

export interface BackoffOptions {
  /** Ceiling of the first delay (ms). Default 500. */
  baseMs?: number
  /** Largest delay (ms). Default 30 000. */
  maxMs?: number
}

/** The delay before attempt `attempt` (0-based): uniform in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = opts.baseMs ?? 500
  const max = opts.maxMs ?? 30_000
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
