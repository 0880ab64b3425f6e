// Explains a client that has not connected: a publisher pointed at the subscriber port, a
// subscriber without keys at a CURVE proxy, an endpoint that is not ZeroMQ at all. libzmq reports
// none of these; the native side finds out with a short raw ZMTP exchange (crates/juice-core/src/
// probe.rs). Probing opens a connection, so it runs only for a client that has been trying for a
// while, and its answer is reused for a few seconds.
import { native } from './load-addon'

/** A client is given this long to connect before its failure is diagnosed. */
const GRACE_MS = 1000
/** How long one diagnosis is reused. */
const REUSE_MS = 5000
/** How long the probe may take (a refused loopback connection takes microseconds). */
const PROBE_TIMEOUT_MS = 200

/** One probe, now: why a `role` client cannot talk to `uri`, or undefined. */
export function diagnoseNow(uri: string, role: 'publisher' | 'subscriber' | 'query', haveCurve: boolean): string | undefined {
  // A NATS client reports its own connection errors (handshakeError); the probe speaks ZMTP.
  if (/^\s*(nats|tls):\/\//.test(uri)) return undefined
  return native.diagnoseEndpoint(uri, role, haveCurve, PROBE_TIMEOUT_MS) ?? undefined
}

export class Diagnosis {
  private readonly since = performance.now()
  private last: { at: number; text: string | undefined } | null = null

  constructor(
    private readonly uri: string,
    private readonly role: 'publisher' | 'subscriber',
    private readonly haveCurve: boolean,
  ) {}

  /**
   * Why the client is not connected, if the endpoint can tell; undefined otherwise. `failed`: a
   * handshake has already failed, so there is no point waiting out the grace period.
   */
  explain(connected: boolean, failed = false): string | undefined {
    if (connected) return undefined
    const now = performance.now()
    if (!failed && now - this.since < GRACE_MS) return undefined
    if (this.last === null || now - this.last.at > REUSE_MS) {
      const text = diagnoseNow(this.uri, this.role, this.haveCurve)
      this.last = { at: now, text }
    }
    return this.last.text
  }
}
