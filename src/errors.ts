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

/** Nothing arrived before the timeout given to `get()`. */
export class TimeoutError extends JuiceError {
  constructor(message = 'Timeout while waiting for an event', options?: { cause?: unknown }) {
    super(message, 'ERR_JUICE_TIMEOUT', options)
    this.name = 'TimeoutError'
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
