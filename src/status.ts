// Connection status as a stream of changes, the way nats.js reports it: `for await (const s of
// client.status())`. libzmq reconnects by itself and reports through socket monitors, whose state
// the native side keeps (connected, handshake failures); this module turns that state into
// events by sampling it while someone is listening, so an idle client costs nothing.
import { setTimeout as sleep } from 'node:timers/promises'

/** A change in a publisher's or subscriber's connection to the proxy. */
export type ConnectionStatus =
  /** The first handshake with the proxy completed. */
  | { type: 'connected' }
  /** The connection dropped; libzmq is reconnecting. */
  | { type: 'disconnected' }
  /** Connected again after a drop (subscriptions are replayed by libzmq). */
  | { type: 'reconnected' }
  /** The proxy refused a handshake (an unlisted CURVE key, security on one side only). */
  | { type: 'handshakeRefused'; reason: string }

/** A change in who is connected to a proxy, or a refused client. */
export type ProxyStatus =
  | { type: 'connections'; publishers: number; subscribers: number }
  /** `refused` clients since the last event (the first event counts every refusal so far). */
  | { type: 'handshakeRefused'; refused: number }

export interface StatusOptions {
  /** Ends the stream. */
  signal?: AbortSignal
}

/** How often the state is sampled while a stream is being read. Changes that undo each other within it are not seen. */
export const STATUS_INTERVAL_MS = 50

interface ClientState {
  connected: boolean
  handshakeFailures: number
}

/** Connection changes of a client, until it closes or `signal` aborts. */
export async function* clientStatus(
  read: () => ClientState,
  reason: () => string | undefined,
  closed: () => boolean,
  opts: StatusOptions = {},
): AsyncGenerator<ConnectionStatus, void, undefined> {
  let connected = false
  let ever = false
  // From zero, not from the current count: a refusal that happened before the stream was read
  // is reported once, as a connection made before it is ('connected' comes first).
  let failures = 0
  while (!closed() && !opts.signal?.aborted) {
    const s = read()
    if (s.handshakeFailures > failures) {
      failures = s.handshakeFailures
      yield { type: 'handshakeRefused', reason: reason() ?? 'the proxy refused the handshake' }
    }
    if (s.connected !== connected) {
      connected = s.connected
      if (connected) {
        yield { type: ever ? 'reconnected' : 'connected' }
        ever = true
      } else {
        yield { type: 'disconnected' }
      }
    }
    if (!(await pause(opts.signal))) return
  }
}

/** Connection changes of a proxy, until it closes or `signal` aborts. */
export async function* proxyStatus(
  read: () => { publishers: number; subscribers: number; authDenied: number },
  closed: () => boolean,
  opts: StatusOptions = {},
): AsyncGenerator<ProxyStatus, void, undefined> {
  // From zero: the first events describe the state when the stream was first read (who is
  // connected, clients refused so far), then come the changes.
  let last = { publishers: -1, subscribers: -1, authDenied: 0 }
  while (!closed() && !opts.signal?.aborted) {
    const s = read()
    if (s.authDenied > last.authDenied) yield { type: 'handshakeRefused', refused: s.authDenied - last.authDenied }
    if (s.publishers !== last.publishers || s.subscribers !== last.subscribers) {
      yield { type: 'connections', publishers: s.publishers, subscribers: s.subscribers }
    }
    last = s
    if (!(await pause(opts.signal))) return
  }
}

/** Waits one interval; false when `signal` aborted meanwhile. */
async function pause(signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(STATUS_INTERVAL_MS, undefined, { signal })
    return true
  } catch {
    return false
  }
}
