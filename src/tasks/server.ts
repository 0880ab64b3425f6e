// TaskServer: answers tasks from upstream's router and clients (and ours) over WebSocket on
// `/tasks`, with upstream's reply envelopes. Handlers run per task type; a handler's exception
// becomes an error reply, never a crash. On each connection, tasks whose metadata says
// `parallel: false` run one at a time, in arrival order, and parallel ones at once (the router
// keeps one connection per target, so through it that is one serial slot per target); what a
// closed connection still had queued is not run.
import type { IncomingMessage } from 'node:http'
import { WebSocketServer, type WebSocket } from 'ws'
import { MAX_TASK_MESSAGE, type TaskReply } from './envelope'
import type { Task, TaskClass } from './task'
import { taskTypeName } from './task'

export interface TaskServerOptions {
  /** Port to listen on (0: any free one). Default 5120, upstream's. */
  port?: number
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string
  /** Largest request accepted, in bytes; a larger one closes its connection (1009). Default 50 MiB. */
  maxMessageSize?: number
}

/** What a handler learns about the request besides its task. */
export interface TaskContext {
  id: string
  target: string
  type: string
  parallel: boolean
}

export type TaskHandler<T> = (task: T, ctx: TaskContext) => unknown

interface Registered {
  cls: TaskClass | null
  handler: TaskHandler<unknown>
}

export class TaskServer {
  private readonly handlers = new Map<string, Registered>()
  private readonly wss: WebSocketServer
  /** Per connection, the end of its serial queue: its serial tasks chain on it. */
  private readonly serial = new WeakMap<WebSocket, Promise<void>>()
  private running = 0

  private constructor(wss: WebSocketServer) {
    this.wss = wss
    wss.on('connection', (ws: WebSocket, req: IncomingMessage) => this.serve(ws, req))
  }

  /** Starts listening; resolves once the port is bound. */
  static start(opts: TaskServerOptions = {}): Promise<TaskServer> {
    const port = opts.port ?? 5120
    const host = opts.host ?? '127.0.0.1'
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ port, host, path: '/tasks', maxPayload: opts.maxMessageSize ?? MAX_TASK_MESSAGE })
      wss.once('listening', () => resolve(new TaskServer(wss)))
      wss.once('error', (e) => reject(e))
    })
  }

  /** The bound port. */
  get port(): number {
    const a = this.wss.address()
    return typeof a === 'object' && a !== null ? a.port : 0
  }

  /** Tasks being run or waiting their turn. */
  get inFlight(): number {
    return this.running
  }

  /**
   * Answers tasks of `type` (a task class, whose instance the handler gets, or a type name, whose
   * plain payload it gets) with what `handler` returns (or resolves to).
   */
  register<T extends Task>(type: TaskClass<T>, handler: TaskHandler<T>): this
  register(type: string, handler: TaskHandler<Record<string, unknown>>): this
  register(type: TaskClass | string, handler: TaskHandler<never>): this {
    const name = typeof type === 'string' ? type : taskTypeName(type)
    const known = this.handlers.get(name)
    if (known !== undefined && known.cls !== (typeof type === 'string' ? null : type)) {
      throw new TypeError(`a handler for task type ${JSON.stringify(name)} is already registered for another class`)
    }
    this.handlers.set(name, { cls: typeof type === 'string' ? null : type, handler: handler as TaskHandler<unknown> })
    return this
  }

  /** Stops accepting tasks and closes every connection. */
  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate()
    return new Promise((resolve) => this.wss.close(() => resolve()))
  }

  private serve(ws: WebSocket, _req: IncomingMessage): void {
    ws.on('message', (data) => {
      void this.onRequest(ws, String(data))
    })
    // A protocol error (such as a frame over maxPayload) closes the connection; nothing to do.
    ws.on('error', () => {})
  }

  private reply(ws: WebSocket, r: TaskReply): void {
    if (ws.readyState !== ws.OPEN) return
    let text: string | undefined
    try {
      text = JSON.stringify(r)
      // A result JSON cannot carry (a function, a symbol) would vanish from the reply and leave the
      // caller waiting: it is an error instead.
      if (r.status === 'ok' && r.result !== null && JSON.stringify(r.result) === undefined) text = undefined
    } catch (e) {
      text = JSON.stringify(errorReply(r.id, 'TypeError', `result is not JSON-serialisable: ${(e as Error).message}`, ''))
    }
    ws.send(text ?? JSON.stringify(errorReply(r.id, 'TypeError', `result of type ${typeof (r as { result?: unknown }).result} is not JSON-serialisable`, '')))
  }

  private async onRequest(ws: WebSocket, text: string): Promise<void> {
    let req: Record<string, unknown>
    try {
      const v: unknown = JSON.parse(text)
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object')
      req = v as Record<string, unknown>
    } catch (e) {
      // Upstream stays silent here; a reply with a null id at least tells a debugging peer why.
      return this.reply(ws, errorReply(null, 'ValueError', `malformed task envelope: ${(e as Error).message}`, ''))
    }
    const id = req.id
    if (id === undefined || id === null) return this.reply(ws, errorReply(null, 'ValueError', "task envelope has no 'id'", ''))
    const type = req.type
    if (typeof type !== 'string') return this.reply(ws, errorReply(id, 'ValueError', "Missing 'type' key in task data", ''))
    const entry = this.handlers.get(type)
    if (entry === undefined) return this.reply(ws, errorReply(id, 'ValueError', `Unknown task type: ${type}`, ''))
    const payload = req.payload ?? {}
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
      return this.reply(ws, errorReply(id, 'ValidationError', 'payload must be a JSON object', ''))
    }
    const metadata = (req.metadata ?? {}) as Record<string, unknown>
    const ctx: TaskContext = { id: String(id), target: typeof req.target === 'string' ? req.target : '', type, parallel: metadata.parallel === true }
    const run = async (): Promise<void> => {
      // Queued behind a serial task of a connection that has since closed: nobody is waiting.
      if (ws.readyState !== ws.OPEN) return
      try {
        const task = entry.cls === null ? payload : Object.assign(Object.create(entry.cls.prototype) as object, payload)
        const result = await entry.handler(task, ctx)
        this.reply(ws, { id, status: 'ok', result: result === undefined ? null : result })
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e))
        this.reply(ws, errorReply(id, err.name, err.message, err.stack ?? ''))
      }
    }
    this.running++
    try {
      if (ctx.parallel) await run()
      else {
        const turn = (this.serial.get(ws) ?? Promise.resolve()).then(run)
        this.serial.set(ws, turn)
        await turn
      }
    } finally {
      this.running--
    }
  }
}

function errorReply(id: unknown, ename: string, evalue: string, traceback: string): TaskReply {
  return { id, status: 'error', ename, evalue, traceback }
}
