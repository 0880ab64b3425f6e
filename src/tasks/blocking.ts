// TaskClientBlocking: the same requests as TaskClient, for scripts that never yield. A worker
// thread owns the WebSocket; each call blocks the calling thread in Atomics.wait until the worker
// has the reply, then takes it synchronously with receiveMessageOnPort.
import fs from 'node:fs'
import path from 'node:path'
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads'
import { TaskConnectionError, TaskError, TimeoutError } from '../errors'
import { checkTimeout, type TaskClientOptions, tasksUrl } from './client'
import type { Task, TaskClass } from './task'
import { payloadOf, taskTypeName } from './task'

interface Reply {
  seq: number
  ok: boolean
  result?: unknown
  name?: string
  message?: string
  ename?: string
  evalue?: string
  traceback?: string
}

export class TaskClientBlocking {
  readonly url: string
  private readonly worker: Worker
  private readonly port: MessagePort
  private readonly signal = new Int32Array(new SharedArrayBuffer(4))
  private readonly connectTimeout: number
  private seq = 0
  private closed = false

  constructor(url: string, opts: TaskClientOptions = {}) {
    // Checked here: a worker that failed to start could never answer the blocked caller.
    this.url = tasksUrl(url)
    this.connectTimeout = checkTimeout(opts.connectTimeout) ?? 10
    const script = path.join(__dirname, 'blocking-worker.js')
    if (!fs.existsSync(script)) throw new Error(`TaskClientBlocking needs the compiled ${script}; run from the built package (dist)`)
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    this.worker = new Worker(script, {
      workerData: { url, port: port2, signal: this.signal, maxMessageSize: opts.maxMessageSize, connectTimeout: opts.connectTimeout },
      transferList: [port2],
    })
    // The worker must not keep a script alive that is done with its client.
    this.worker.unref()
  }

  /**
   * Sends `task` to `target` and blocks until its result; throws TaskError when it failed remotely,
   * TimeoutError after `timeout` seconds (the task is not cancelled: upstream has no cancel).
   */
  execute(target: string, task: Task, opts: { timeout?: number } = {}): unknown {
    if (this.closed) throw new TaskConnectionError('the task client is closed')
    const timeout = checkTimeout(opts.timeout)
    const cls = task.constructor as TaskClass
    // Past the task's own timeout (plus connecting), the worker is presumed gone.
    const limit = timeout === undefined ? undefined : (timeout + this.connectTimeout + 5) * 1000
    const reply = this.call(limit, {
      op: 'execute',
      target,
      type: taskTypeName(cls),
      parallel: cls.parallel === true,
      showInDashboard: cls.showInDashboard !== false,
      payload: payloadOf(task),
      timeout,
    })
    if (reply.ok) return reply.result
    if (reply.name === 'TaskError') throw new TaskError(reply.ename ?? 'Error', reply.evalue ?? '', reply.traceback ?? '')
    if (reply.name === 'TimeoutError') throw new TimeoutError(reply.message)
    if (reply.name === 'TypeError') throw new TypeError(reply.message)
    throw new TaskConnectionError(reply.message ?? 'the task client failed')
  }

  /** Closes the connection and the worker thread. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.call(10_000, { op: 'close' })
    this.port.close()
    void this.worker.terminate()
  }

  /** Posts a call and blocks until its answer (or `limitMs` passes). */
  private call(limitMs: number | undefined, msg: object): Reply {
    const seq = ++this.seq
    const end = limitMs === undefined ? Infinity : Date.now() + limitMs
    Atomics.store(this.signal, 0, 0)
    this.port.postMessage({ seq, ...msg })
    for (;;) {
      Atomics.wait(this.signal, 0, 0, 1000)
      for (let got = receiveMessageOnPort(this.port); got !== undefined; got = receiveMessageOnPort(this.port)) {
        const reply = got.message as Reply
        if (reply.seq === seq) return reply
        // An answer to an earlier call that was given up on: not this call's.
      }
      Atomics.store(this.signal, 0, 0)
      if (Date.now() > end) return { seq, ok: false, name: 'TaskConnectionError', message: `the task client's worker did not answer within ${limitMs} ms` }
    }
  }
}
