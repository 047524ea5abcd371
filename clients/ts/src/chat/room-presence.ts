//! "Who is here" and "who is typing" in a chat room, from the presence of the
//! chat's topic (docs/protocol.md §10.6): this room shows `{here: true}` while
//! open and `{here: true, typing: true}` while the user types.

import type { PresenceEntry } from '../frames.js'
import { ValueStore } from '../store.js'
import type { Subscription } from '../topics/types.js'

/** `typing(true)` lasts this long unless called again. */
export const TYPING_IDLE_MS = 5_000

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

/** Users (not `me`) whose presence state has `key: true`, in arrival order, once each. */
function usersWith(entries: PresenceEntry[], key: string, me: string | null): string[] {
  const out: string[] = []
  for (const e of entries) {
    const state = e.state as Record<string, unknown> | null
    if (!e.user || e.user === me || !state || typeof state !== 'object' || state[key] !== true) continue
    if (!out.includes(e.user)) out.push(e.user)
  }
  return out
}

export class RoomPresence {
  readonly typingUsers: ValueStore<string[]>
  readonly here: ValueStore<string[]>
  private sub: Subscription | undefined
  private unlisten: (() => void) | undefined
  private typingOn = false
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly me: () => string | null,
    report: (e: unknown) => void,
  ) {
    this.typingUsers = new ValueStore<string[]>([], report, sameList)
    this.here = new ValueStore<string[]>([], report, sameList)
  }

  /** Shows this user in `sub`'s topic and follows the others there. */
  attach(sub: Subscription): void {
    this.detach()
    this.sub = sub
    this.unlisten = sub.presence.subscribe((entries) => this.update(entries))
    sub.setPresence(this.own())
    this.update(sub.presence.get())
  }

  /** Stops following (the subscription is being dropped). */
  detach(): void {
    this.unlisten?.()
    this.unlisten = this.sub = undefined
    this.update([])
  }

  typing(on: boolean): void {
    clearTimeout(this.timer)
    this.timer = on ? setTimeout(() => this.typing(false), TYPING_IDLE_MS) : undefined
    if (on === this.typingOn) return
    this.typingOn = on
    this.sub?.setPresence(this.own())
  }

  /** The user changed: recompute who counts as "others". */
  refresh(): void {
    this.update(this.sub?.presence.get() ?? [])
  }

  close(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.detach()
  }

  private own(): Record<string, boolean> {
    return this.typingOn ? { here: true, typing: true } : { here: true }
  }

  private update(entries: PresenceEntry[]): void {
    const me = this.me()
    this.typingUsers.set(usersWith(entries, 'typing', me))
    this.here.set(usersWith(entries, 'here', me))
  }
}
