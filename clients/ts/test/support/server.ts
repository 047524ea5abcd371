// The real `goonline` binary, started per test file on a free port (never a mock).
//
// GOONLINE_BIN overrides the binary (default ../../target/debug/goonline).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
export const GOONLINE_BIN = process.env.GOONLINE_BIN
  ? path.resolve(process.cwd(), process.env.GOONLINE_BIN)
  : path.resolve(here, '../../../../target/debug/goonline')

const LISTEN_RE = /^listening on http:\/\/127\.0\.0\.1:(\d+)\s*$/m

export interface ServerOptions {
  /** More `goonline serve` flags. */
  args?: string[]
  /** Reuse this data dir (a restart keeps the database). */
  dataDir?: string
  /** Listen on this port (a restart keeps the address). Default: a free one. */
  port?: number
}

export class GoonlineServer {
  proc: ChildProcess | null = null
  port = 0
  stderr = ''
  readonly dataDir: string
  private readonly ownsDir: boolean
  private exited: Promise<number | null> = Promise.resolve(null)

  constructor(private readonly opts: ServerOptions = {}) {
    this.ownsDir = !opts.dataDir
    this.dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'goonline-sdk-'))
  }

  /** `ws://127.0.0.1:PORT` (the SDK appends `/v1/ws`). */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async start(port = this.opts.port ?? 0): Promise<this> {
    if (!existsSync(GOONLINE_BIN)) {
      throw new Error(`goonline binary not found at ${GOONLINE_BIN}: run \`cargo build\` at the repo root or set GOONLINE_BIN`)
    }
    const args = [
      'serve',
      '--listen',
      `127.0.0.1:${port}`,
      '--data-dir',
      this.dataDir,
      '--jwt-secret',
      'sdk-tests-secret-0123456789abcdef0123456789',
      ...(this.opts.args ?? []),
    ]
    const proc = spawn(GOONLINE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
    this.proc = proc
    proc.stderr!.setEncoding('utf8')
    proc.stderr!.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-200_000)
    })
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)))
    this.port = await new Promise<number>((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => reject(new Error(`goonline did not start:\n${this.stderr}`)), 20_000)
      proc.stdout!.setEncoding('utf8')
      proc.stdout!.on('data', (d: string) => {
        out += d
        const m = LISTEN_RE.exec(out)
        if (m) {
          clearTimeout(timer)
          resolve(Number(m[1]))
        }
      })
      proc.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`goonline exited (${code}) before listening:\n${this.stderr}`))
      })
    })
    return this
  }

  /** SIGTERM (graceful drain), then wait; returns the exit code. */
  async stop(): Promise<number | null> {
    if (!this.proc) return null
    const proc = this.proc
    this.proc = null
    if (proc.exitCode !== null) return proc.exitCode
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    if (!this.proc) return
    const proc = this.proc
    this.proc = null
    proc.kill('SIGKILL')
    await this.exited
  }

  /** Stops and starts again on the same port and data dir. */
  async restart(): Promise<void> {
    const port = this.port
    await this.stop()
    await this.start(port)
  }

  /** Stops and removes the data dir (for `afterAll`). */
  async dispose(): Promise<void> {
    await this.stop().catch(() => {})
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true })
  }

  /** A JSON request to the REST API; resolves with status and body. */
  async rest(method: string, route: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.httpUrl}${route}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
}

export async function startServer(opts: ServerOptions = {}): Promise<GoonlineServer> {
  return new GoonlineServer(opts).start()
}

let seq = 0
/** A unique name for docs, users and channels within a run. */
export function unique(prefix: string): string {
  seq += 1
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`
}

export interface TestUser {
  id: string
  email: string
  password: string
  accessToken: string
  refreshToken: string
}

/** Registers a new account over REST. */
export async function registerUser(server: GoonlineServer, name = 'user'): Promise<TestUser> {
  const email = `${unique(name)}@example.com`
  const password = 'correct horse battery staple'
  const res = await server.rest('POST', '/api/auth/register', { email, password, display_name: name })
  if (res.status !== 200 && res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res)}`)
  return {
    id: res.body.user.id,
    email,
    password,
    accessToken: res.body.access_token,
    refreshToken: res.body.refresh_token,
  }
}

/** Polls `pred` until it is truthy (or throws after `timeout` ms, naming `what`). */
export async function waitFor<T>(pred: () => T | Promise<T>, what = 'condition', timeout = 10_000): Promise<T> {
  const deadline = Date.now() + timeout
  for (;;) {
    const v = await pred()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
