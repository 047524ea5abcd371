//! A tiny subscribable value: what React's `useSyncExternalStore` and plain
//! callers both read. Listener exceptions are reported, never thrown into the
//! SDK's own code paths.

export type Listener<T> = (value: T) => void

/** A read-only view of a value that changes over time. */
export interface ReadableStore<T> {
  /** The current value. */
  get(): T
  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: Listener<T>): () => void
}

/** A subscribable value with a setter, for the SDK's own use. */
export class ValueStore<T> implements ReadableStore<T> {
  private value: T
  private readonly listeners = new Set<Listener<T>>()

  constructor(
    initial: T,
    private readonly report: (error: unknown) => void,
    private readonly equal: (a: T, b: T) => boolean = Object.is,
  ) {
    this.value = initial
  }

  get = (): T => this.value

  subscribe = (listener: Listener<T>): (() => void) => {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Sets the value and tells the listeners, if it changed. */
  set(value: T): void {
    if (this.equal(this.value, value)) return
    this.value = value
    for (const l of [...this.listeners]) {
      try {
        l(value)
      } catch (e) {
        this.report(e)
      }
    }
  }
}
