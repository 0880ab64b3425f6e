// The central XSUB/XPUB proxy, forwarding on a native thread. Embed it in any Node app.
import { call } from './errors'
import { native } from './load-addon'
import type { NativeProxy, NativeProxyStats } from './native'

/** Upstream Juice's defaults (task manager `pub_port` 5122, `sub_port` 5123, all interfaces). */
export const DEFAULT_FRONTEND = 'tcp://*:5122'
export const DEFAULT_BACKEND = 'tcp://*:5123'

export interface ProxyOptions {
  /** Where publishers connect (XSUB). Port 0 picks a free port. Default `tcp://*:5122`. */
  frontend?: string
  /** Where subscribers connect (XPUB). Port 0 picks a free port. Default `tcp://*:5123`. */
  backend?: string
  /** `ZMQ_RCVHWM` of the frontend, per publisher. Default 100000. */
  rcvHwm?: number
  /**
   * `ZMQ_SNDHWM` of the backend, per subscriber. A subscriber that falls this far behind loses
   * messages at the proxy rather than stalling the others (unless `lossless`). Default 100000.
   */
  sndHwm?: number
  /**
   * `ZMQ_MAXMSGSIZE` of the frontend, in bytes: a publisher that sends a bigger message is
   * disconnected (libzmq's protection against memory exhaustion). -1 for no limit. Default 128 MiB.
   */
  maxMessageSize?: number
  /**
   * Wait for a full subscriber instead of dropping for it (`ZMQ_XPUB_NODROP`). Together with
   * lossless subscribers this turns every overflow into backpressure on the publishers; the price
   * is that one stalled subscriber stalls all of them. Default false.
   */
  lossless?: boolean
}

export type ProxyStats = NativeProxyStats

export class Proxy {
  private constructor(private readonly native: NativeProxy) {}

  /** Binds both endpoints and starts forwarding. Rejects with InvalidUriError if a bind fails. */
  static async start(opts: ProxyOptions = {}): Promise<Proxy> {
    return Proxy.startSync(opts)
  }

  /** As {@link Proxy.start}, for blocking scripts. */
  static startSync(opts: ProxyOptions = {}): Proxy {
    const n = call(
      () =>
        new native.NativeProxy({
          frontend: opts.frontend ?? DEFAULT_FRONTEND,
          backend: opts.backend ?? DEFAULT_BACKEND,
          rcvHwm: opts.rcvHwm,
          sndHwm: opts.sndHwm,
          maxMessageSize: opts.maxMessageSize,
          lossless: opts.lossless,
        }),
    )
    return new Proxy(n)
  }

  /** The bound frontend endpoint (publishers), with the real port. */
  get frontend(): string {
    return this.native.frontend
  }

  /** The bound backend endpoint (subscribers), with the real port. */
  get backend(): string {
    return this.native.backend
  }

  /** Messages and bytes forwarded, and distinct live subscriptions. */
  stats(): ProxyStats {
    return this.native.stats()
  }

  /** Stops forwarding and unbinds. Idempotent. */
  async close(): Promise<void> {
    this.native.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
