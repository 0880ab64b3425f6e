// One error class per failure, each with a stable `code`, so callers can branch on
// `instanceof` or on `code` without parsing messages.

export class JuiceError extends Error {
  /** Stable machine-readable code, e.g. `ERR_JUICE_CLOSED`. */
  readonly code: string
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'JuiceError'
    this.code = code
  }
}

/** Nothing arrived before the timeout given to `get()` (or a query went unanswered). */
export class TimeoutError extends JuiceError {
  /**
   * Why nothing could arrive, when the library could tell: a handshake the proxy refused, or
   * what a probe found at the endpoint instead (the proxy's other port, a CURVE proxy, not
   * ZeroMQ). Also part of the message.
   */
  readonly diagnosis: string | undefined
  constructor(message = 'Timeout while waiting for an event', options?: { cause?: unknown; diagnosis?: string }) {
    super(message, 'ERR_JUICE_TIMEOUT', options)
    this.name = 'TimeoutError'
    this.diagnosis = options?.diagnosis
  }
}

/** The publisher, subscriber or proxy was closed. */
export class ClosedError extends JuiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_JUICE_CLOSED', options)
    this.name = 'ClosedError'
  }
}

/** A URI that cannot be connected to or bound. The message names the URI. */
export class InvalidUriError extends JuiceError {
  constructor(message: string, options?: { cause?: unknown }, code = 'ERR_JUICE_INVALID_URI') {
    super(message, code, options)
    this.name = 'InvalidUriError'
  }
}

/**
 * A well-formed endpoint that cannot be bound: the address is in use, not local, or not
 * permitted. An InvalidUriError too, with code `ERR_JUICE_BIND`.
 */
export class BindError extends InvalidUriError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'ERR_JUICE_BIND')
    this.name = 'BindError'
  }
}

/** libzmq refused an operation; the message names the operation and libzmq's reason. */
export class ZmqError extends JuiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_JUICE_ZMQ', options)
    this.name = 'ZmqError'
  }
}

/** The native addon has no binary for this platform; the message says what was tried and what to do. */
export class NoBinaryError extends JuiceError {
  constructor(message: string) {
    super(message, 'ERR_JUICE_NO_BINARY')
    this.name = 'NoBinaryError'
  }
}

/** An InfluxDB server refused, could not be reached, or lacks the database or bucket. */
export class InfluxError extends JuiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_JUICE_INFLUX', options)
    this.name = 'InfluxError'
  }
}

/** `AsyncQueue.getNowait()` on an empty queue (Python's `asyncio.QueueEmpty`). */
export class QueueEmptyError extends JuiceError {
  constructor(message = 'queue is empty') {
    super(message, 'ERR_JUICE_QUEUE_EMPTY')
    this.name = 'QueueEmptyError'
  }
}

/** `get()` was aborted through its AbortSignal. */
export class AbortError extends JuiceError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, 'ERR_JUICE_ABORTED', options)
    this.name = 'AbortError'
  }
}

/** Re-throws an addon error as the matching class; anything else unchanged. */
export function translate(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code
  const message = (e as Error)?.message ?? String(e)
  switch (code) {
    case 'ERR_JUICE_CLOSED':
      return new ClosedError(message, { cause: e })
    case 'ERR_JUICE_INVALID_URI':
      return new InvalidUriError(message, { cause: e })
    case 'ERR_JUICE_BIND':
      return new BindError(message, { cause: e })
    case 'ERR_JUICE_INVALID_ARGUMENT':
      return new TypeError(message, { cause: e })
    case 'ERR_JUICE_TIMEOUT':
      return new TimeoutError(message, { cause: e })
    case 'ERR_JUICE_ZMQ':
      return new ZmqError(message, { cause: e })
    default:
      return e
  }
}

/** Runs `fn`, translating addon errors. */
export function call<T>(fn: () => T): T {
  try {
    return fn()
  } catch (e) {
    throw translate(e)
  }
}

/**
 * A task ran and failed on the server: its exception's class name (`ename`), message (`evalue`)
 * and the remote traceback, as upstream's error reply carries them.
 */
export class TaskError extends JuiceError {
  readonly ename: string
  readonly evalue: string
  readonly traceback: string
  constructor(ename: string, evalue: string, traceback: string) {
    super(`${ename}: ${evalue}`, 'ERR_JUICE_TASK')
    this.name = 'TaskError'
    this.ename = ename
    this.evalue = evalue
    this.traceback = traceback
  }
}

/** The connection to a task server was lost (or could not be made) while a task was pending. */
export class TaskConnectionError extends JuiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_JUICE_TASK_CONNECTION', options)
    this.name = 'TaskConnectionError'
  }
}
