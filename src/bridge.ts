// The bridge between a Juice proxy (ZeroMQ) and a NATS cluster. The forwarding runs in the Rust
// core (crates/juice-core/src/nats/bridge.rs); this class starts it, reads its counters and
// closes it.
import { call } from './errors'
import { native } from './load-addon'
import type { NativeBridge } from './native'
import type { BridgeStats } from './native-types'
import { stringOption } from './options'
import { proxyEndpoints } from './proxy'

export interface BridgeOptions {
  /**
   * The Juice proxy: a host (upstream's ports 5122 and 5123 are added, as `proxyEndpoints()`
   * does), or both endpoints.
   */
  proxy: string | { frontend: string; backend: string }
  /** NATS servers: `nats://host:4222`, or several separated by commas. */
  nats: string
  /** Subject prefix on NATS, the same as the NATS clients' `natsPrefix`. Default `juice`. */
  natsPrefix?: string
}

// Documented where it is defined: the addon's declarations are generated from the Rust struct.
export type { BridgeStats }

/**
 * Joins a Juice proxy and a NATS cluster in both directions, so that Python Juice services on the
 * proxy and Node services on NATS see the same events. Only what someone subscribes to crosses,
 * in each direction: ZeroMQ subscriptions come from the proxy; NATS subscribers of this library
 * announce theirs (other NATS clients are not seen). The bridge never loops: what it put on one
 * side and comes back is recognised and dropped.
 *
 * ```ts
 * const bridge = Bridge.start({ proxy: 'lab-pc', nats: 'nats://nats1:4222,nats://nats2:4222' })
 * ```
 */
export class Bridge {
  private constructor(private readonly native: NativeBridge) {}

  static start(opts: BridgeOptions): Bridge {
    if (typeof opts !== 'object' || opts === null) throw new TypeError('Bridge.start() needs options: { proxy, nats }')
    const ep = typeof opts.proxy === 'string' ? proxyEndpoints(opts.proxy) : opts.proxy
    if (typeof ep !== 'object' || ep === null || typeof ep.frontend !== 'string' || typeof ep.backend !== 'string') {
      throw new TypeError('Bridge option proxy must be a host name or { frontend, backend }')
    }
    const nats = stringOption('Bridge', 'nats', opts.nats)
    if (nats === undefined) throw new TypeError('Bridge option nats is required (nats://host:4222)')
    const natsPrefix = stringOption('Bridge', 'natsPrefix', opts.natsPrefix)
    return new Bridge(call(() => new native.NativeBridge({ frontend: ep.frontend, backend: ep.backend, nats, natsPrefix })))
  }

  stats(): BridgeStats {
    return this.native.stats()
  }

  /** The NATS client's last error (e.g. a refused authorisation), if any. */
  natsError(): string | undefined {
    return this.native.natsError() ?? undefined
  }

  /** Stops forwarding and closes both connections. */
  async close(): Promise<void> {
    await this.native.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
