// The worker thread behind TaskClientBlocking: it owns an async TaskClient and answers each
// request from the calling thread on a MessagePort, then wakes the caller, which is blocked in
// Atomics.wait (so a blocking call returns without the caller's event loop ever turning).
import { type MessagePort, workerData } from 'node:worker_threads'
import { TaskClient } from './client'
import { Task } from './task'

interface Init {
  url: string
  port: MessagePort
  signal: Int32Array
  maxMessageSize?: number
  connectTimeout?: number
}

interface Call {
  /** Echoed in the answer, so that the caller never takes a stale answer for a new call. */
  seq: number
  op: 'execute' | 'close'
  target?: string
  type?: string
  parallel?: boolean
  showInDashboard?: boolean
  payload?: Record<string, unknown>
  timeout?: number
}

const init = workerData as Init
/** The call being answered; an answer always names the call it is for. */
let current = -1

function answer(seq: number, reply: object): void {
  init.port.postMessage({ seq, ...reply })
  Atomics.store(init.signal, 0, 1)
  Atomics.notify(init.signal, 0)
}

// Whatever goes wrong here must reach the caller, which is blocked until an answer comes. Set up
// before anything else can throw.
process.on('uncaughtException', (e) => answer(current, { ok: false, name: 'TaskConnectionError', message: `the task client's worker failed: ${e.message}` }))

const client = new TaskClient(init.url, { maxMessageSize: init.maxMessageSize, connectTimeout: init.connectTimeout })
/** Classes made for the wire types asked for, so a task carries its type name and metadata. */
const classes = new Map<string, typeof Task>()

function classFor(type: string, parallel: boolean, showInDashboard: boolean): typeof Task {
  const key = `${type}\0${parallel}\0${showInDashboard}`
  let cls = classes.get(key)
  if (cls === undefined) {
    cls = class extends Task {
      static override taskName = type
      static override parallel = parallel
      static override showInDashboard = showInDashboard
    }
    classes.set(key, cls)
  }
  return cls
}

init.port.on('message', (call: Call) => {
  current = call.seq
  if (call.op === 'close') {
    void client.close().then(() => {
      answer(call.seq, { ok: true })
      init.port.close()
    })
    return
  }
  const cls = classFor(call.type as string, call.parallel === true, call.showInDashboard !== false)
  client
    .execute(call.target as string, new cls(call.payload), { timeout: call.timeout })
    .then(
      (result) => answer(call.seq, { ok: true, result }),
      (e: Error & { ename?: string; evalue?: string; traceback?: string }) =>
        answer(call.seq, { ok: false, name: e.name, message: e.message, ename: e.ename, evalue: e.evalue, traceback: e.traceback }),
    )
})
