// A TCP proxy between the SDK and the server, for fault injection: cut every
// connection, cut right after the client's next write reached the server
// (its reply is lost), or freeze traffic (a dead link that never closes).
import net from 'node:net'

export class FaultProxy {
  private server: net.Server | null = null
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()
  private frozen = false
  private cutAfterClientWrite = false
  private refuse = false
  port = 0
  /** How many connections were accepted. */
  accepted = 0

  constructor(private readonly target: () => number) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  async start(): Promise<this> {
    this.server = net.createServer((client) => this.accept(client))
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server!.address() as net.AddressInfo).port
    return this
  }

  private accept(client: net.Socket): void {
    if (this.refuse) {
      client.destroy()
      return
    }
    this.accepted += 1
    const upstream = net.connect(this.target(), '127.0.0.1')
    const pair = { client, upstream }
    this.pairs.add(pair)
    const end = () => {
      client.destroy()
      upstream.destroy()
      this.pairs.delete(pair)
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
    client.on('data', (d) => {
      if (this.frozen) return
      upstream.write(d, () => {
        if (this.cutAfterClientWrite) {
          this.cutAfterClientWrite = false
          // Give the server a moment to read and run it, then cut before the reply.
          upstream.pause()
          client.pause()
          setTimeout(end, 300)
        }
      })
    })
    upstream.on('data', (d) => {
      if (!this.frozen) client.write(d)
    })
  }

  /** Cuts every connection at once (the client sees an abnormal close). */
  cutAll(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy()
      upstream.destroy()
    }
    this.pairs.clear()
  }

  /** The next bytes the client sends reach the server; then the connection is cut before any answer. */
  cutAfterNextClientWrite(): void {
    this.cutAfterClientWrite = true
  }

  /** Stops forwarding in both directions without closing anything (a dead link). */
  freeze(): void {
    this.frozen = true
  }

  thaw(): void {
    this.frozen = false
  }

  /** Refuses new connections (the server looks down) until `accept()`. */
  refuseNew(on: boolean): void {
    this.refuse = on
  }

  async stop(): Promise<void> {
    this.cutAll()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
  }
}
