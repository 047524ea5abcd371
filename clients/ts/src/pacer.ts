//! Keeps the client under the server's frame budget (`--max-frames-per-sec`, 500
//! per second with bursts of 1000): the server drops a frame over it with an
//! `error rate_limited` that names no request, so the SDK paces itself instead.

/** A token bucket: `take()` says whether a frame may go now. */
export class Pacer {
  private tokens: number
  private last: number

  constructor(
    private readonly perSec = 400,
    private readonly burst = 800,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst
    this.last = now()
  }

  /** Takes a token if one is available. */
  take(): boolean {
    const t = this.now()
    // Never negative: a wall clock stepped back must not stall every send.
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, t - this.last) * this.perSec) / 1000)
    this.last = t
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Milliseconds until the next token. */
  wait(): number {
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSec))
  }
}

/**
 * Writes frames to one socket in order, no faster than the pacer allows.
 * `write` returns false when the socket threw (it is then lost).
 */
export class PacedWriter {
  private queue: Uint8Array[] = []
  private head = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private readonly pacer = new Pacer()

  constructor(private readonly write: (bytes: Uint8Array) => boolean) {}

  /** Queues `bytes` and writes what the budget allows now. */
  push(bytes: Uint8Array): void {
    this.queue.push(bytes)
    this.flush()
  }

  /** Drops everything queued (the socket is gone). */
  clear(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
    this.head = 0
  }

  private flush(): void {
    if (this.timer !== undefined) return
    while (this.head < this.queue.length) {
      if (!this.pacer.take()) {
        this.timer = setTimeout(() => {
          this.timer = undefined
          this.flush()
        }, this.pacer.wait())
        return
      }
      const bytes = this.queue[this.head]!
      this.head += 1
      if (!this.write(bytes)) return
    }
    this.queue = []
    this.head = 0
  }
}
