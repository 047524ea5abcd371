// The few host globals the SDK uses, declared here instead of pulling in the DOM
// or Node typings: a use of anything else (TextDecoder, EventTarget, window…)
// fails to type-check, which keeps the SDK loadable on Hermes. Tests compile
// with the full DOM and Node typings instead (tsconfig.test.json).

type TimerHandle = { readonly __timer: unique symbol } | number

declare function setTimeout(callback: () => void, ms?: number): TimerHandle
declare function clearTimeout(handle: TimerHandle | undefined): void

interface AbortSignal {
  readonly aborted: boolean
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

interface Crypto {
  getRandomValues<T extends Uint8Array>(array: T): T
}
