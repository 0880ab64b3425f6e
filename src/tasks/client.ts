// TaskClient: sends tasks to a Juice task server (a service's, or the task manager's router) over
// one WebSocket, and matches the replies, which may come in any order, by id.
import { randomUUID } from 'node:crypto'
import WebSocket from 'ws'
import { TaskConnectionError, TaskError, TimeoutError } from '../errors'
import { MAX_SECONDS } from '../options'
import { MAX_TASK_MESSAGE, parseReply, type TaskRequestEnvelope } from './envelope'
import { displayName, payloadOf, type Task, type TaskClass, taskTypeName } from './task'

export interface TaskClientOptions {
  /** Largest reply accepted, in bytes. Default 50 MiB, as upstream. */
  maxMessageSize?: number
  /** Seconds to wait for the connection. Default 10. */
  connectTimeout?: number
}

export interface ExecuteOptions {
  /** Seconds to wait for the reply; the task is not cancelled on the server (upstream has no cancel). */
  timeout?: number
  signal?: AbortSignal
}

/** A task that was sent: its id, and its outcome when it comes. */
export interface TaskHandle {
  readonly id: string
  /** Resolves with the result, or rejects with TaskError or TaskConnectionError. */
  readonly result: Promise<unknown>
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  /** The connection the task went out on: only its loss fails the task. */
  ws: WebSocket
}

/** Seconds between keep-alive pings, and how long a pong may take (upstream's 30 s each). */
const PING_INTERVAL_MS = 30_000

/** Checks a timeout in seconds (undefined: none). */
export function checkTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined) return undefined
  if (typeof timeout !== 'number' || !(timeout >= 0 && timeout <= MAX_SECONDS)) {
    throw new TypeError(`timeout must be a number of seconds from 0 to ${MAX_SECONDS}, got ${String(timeout)}`)
  }
  return timeout
}

/** `ws://host:port` (or with a path) as the URL of its `/tasks` endpoint. @internal */
export function tasksUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new TypeError(`task server URL is not a URL: ${JSON.stringify(url)}`)
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new TypeError(`task server URL must be ws:// or wss://, got ${JSON.stringify(url)}`)
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/tasks'
  return u.href
}

export class TaskClient {
  readonly url: string
  private ws: WebSocket | null = null
  private opening: Promise<WebSocket> | null = null
  private readonly pending = new Map<string, Pending>()
  private readonly maxMessageSize: number
  private readonly connectTimeoutMs: number
  private closed = false

  constructor(url: string, opts: TaskClientOptions = {}) {
    this.url = tasksUrl(url)
    this.maxMessageSize = opts.maxMessageSize ?? MAX_TASK_MESSAGE
    this.connectTimeoutMs = (opts.connectTimeout ?? 10) * 1000
  }

  /** Sends `task` to `target`; resolves once it is sent, with a handle on its outcome. */
  async request(target: string, task: Task): Promise<TaskHandle> {
    if (this.closed) throw new TaskConnectionError('the task client is closed')
    if (typeof target !== 'string' || target.length === 0) throw new TypeError('target must be a non-empty string')
    const cls = task.constructor as TaskClass
    const type = taskTypeName(cls)
    const payload = payloadOf(task)
    const envelope: TaskRequestEnvelope = {
      id: randomUUID(),
      target,
      type,
      metadata: { parallel: cls.parallel === true, display_name: displayName(type, payload), show_in_dashboard: cls.showInDashboard !== false },
      payload,
    }
    const frame = JSON.stringify(envelope)
    // Upstream closes a connection that carries a message over the limit, failing every task on
    // it: refuse this one alone, here.
    if (Buffer.byteLength(frame) > this.maxMessageSize) {
      throw new RangeError(`task ${type} is ${Buffer.byteLength(frame)} bytes on the wire, over the ${this.maxMessageSize}-byte message limit`)
    }
    const ws = await this.connection()
    const result = new Promise<unknown>((resolve, reject) => this.pending.set(envelope.id, { resolve, reject, ws }))
    // A rejection nobody awaited yet must not crash the process.
    result.catch(() => {})
    await new Promise<void>((resolve, reject) =>
      ws.send(frame, (err) => {
        if (err === undefined || err === null) return resolve()
        this.pending.delete(envelope.id)
        reject(new TaskConnectionError(`could not send task ${type} to ${this.url}: ${err.message}`, { cause: err }))
      }),
    )
    return { id: envelope.id, result }
  }

  /**
   * Sends `task` to `target` and waits for its result; throws TaskError when it failed remotely.
   * `timeout` counts from the call (connecting included), as upstream's blocking client does.
   */
  async execute(target: string, task: Task, opts: ExecuteOptions = {}): Promise<unknown> {
    const seconds = checkTimeout(opts.timeout)
    const signal = opts.signal
    if (signal?.aborted) throw signal.reason ?? new Error('aborted')
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    let gaveUp = false
    const sent = this.request(target, task)
    const waits: Promise<unknown>[] = [sent.then((h) => h.result)]
    if (seconds !== undefined) {
      const type = taskTypeName(task.constructor as TaskClass)
      waits.push(
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new TimeoutError(`no reply to task ${type} from ${this.url} within ${seconds} s`)), seconds * 1000)
        }),
      )
    }
    if (signal !== undefined) {
      waits.push(
        new Promise((_, reject) => {
          onAbort = () => reject(signal.reason ?? new Error('aborted'))
          signal.addEventListener('abort', onAbort, { once: true })
        }),
      )
    }
    try {
      return await Promise.race(waits)
    } catch (e) {
      gaveUp = true
      throw e
    } finally {
      if (timer !== undefined) clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
      // A task given up on is forgotten: its late reply, if any, is dropped when it comes.
      if (gaveUp) sent.then((h) => this.pending.delete(h.id), () => {})
    }
  }

  /** Closes the connection; pending tasks fail with TaskConnectionError. */
  async close(): Promise<void> {
    this.closed = true
    const ws = this.ws ?? (await this.opening?.catch(() => null)) ?? null
    if (ws !== null && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve())
        ws.close()
      })
    }
    this.failAll('the task client was closed')
  }

  /** Fails the tasks that went out on `ws` (every task when `ws` is null). */
  private failAll(why: string, ws: WebSocket | null = null): void {
    for (const [id, p] of this.pending) {
      if (ws !== null && p.ws !== ws) continue
      this.pending.delete(id)
      p.reject(new TaskConnectionError(why))
    }
  }

  private connection(): Promise<WebSocket> {
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws)
    if (this.opening !== null) return this.opening
    this.opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.url, { maxPayload: this.maxMessageSize, handshakeTimeout: this.connectTimeoutMs })
      let ping: NodeJS.Timeout | undefined
      ws.once('open', () => {
        this.opening = null
        if (this.closed) {
          ws.close()
          return reject(new TaskConnectionError('the task client is closed'))
        }
        this.ws = ws
        // Keep-alive, as upstream's peers do: a connection that died silently is noticed (and its
        // tasks failed) instead of waiting forever.
        let alive = true
        ws.on('pong', () => (alive = true))
        ping = setInterval(() => {
          if (!alive) return ws.terminate()
          alive = false
          ws.ping()
        }, PING_INTERVAL_MS)
        ping.unref()
        resolve(ws)
      })
      ws.on('message', (data, isBinary) => this.onMessage(isBinary ? data.toString() : String(data)))
      ws.once('error', (e) => {
        if (this.ws !== ws) {
          this.opening = null
          reject(new TaskConnectionError(`cannot connect to the task server at ${this.url}: ${e.message}`, { cause: e }))
        }
      })
      ws.once('close', (code, reason) => {
        if (ping !== undefined) clearInterval(ping)
        if (this.ws === ws) this.ws = null
        const why = `connection to the task server at ${this.url} was lost (${code}${reason.length > 0 ? ` ${reason}` : ''})`
        this.failAll(why, ws)
      })
    })
    return this.opening
  }

  private onMessage(text: string): void {
    const reply = parseReply(text)
    if (typeof reply === 'string') return
    const id = typeof reply.id === 'string' ? reply.id : undefined
    const p = id === undefined ? undefined : this.pending.get(id)
    if (p === undefined || id === undefined) return
    this.pending.delete(id)
    if (reply.status === 'ok') p.resolve(reply.result)
    else p.reject(new TaskError(reply.ename, reply.evalue, reply.traceback))
  }
}
