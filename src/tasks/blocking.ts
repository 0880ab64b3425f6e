// TaskClientBlocking: the same requests as TaskClient, for scripts that never yield. A worker
// thread owns the WebSocket; each call blocks the calling thread in Atomics.wait until the worker
// has the reply, then takes it synchronously with receiveMessageOnPort.
import path from 'node:path'
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads'
import { TaskConnectionError, TaskError, TimeoutError } from '../errors'
import type { TaskClientOptions } from './client'
import type { Task, TaskClass } from './task'
import { payloadOf, taskTypeName } from './task'

interface Reply {
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
  private closed = false

  constructor(url: string, opts: TaskClientOptions = {}) {
    this.url = url
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    this.worker = new Worker(path.join(__dirname, 'blocking-worker.js'), {
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
    const cls = task.constructor as TaskClass
    const reply = this.call({
      op: 'execute',
      target,
      type: taskTypeName(cls),
      parallel: cls.parallel === true,
      showInDashboard: cls.showInDashboard !== false,
      payload: payloadOf(task),
      timeout: opts.timeout,
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
    this.call({ op: 'close' })
    this.port.close()
    void this.worker.terminate()
  }

  private call(msg: object): Reply {
    Atomics.store(this.signal, 0, 0)
    this.port.postMessage(msg)
    for (;;) {
      Atomics.wait(this.signal, 0, 0, 1000)
      const got = receiveMessageOnPort(this.port)
      if (got !== undefined) return got.message as Reply
    }
  }
}
