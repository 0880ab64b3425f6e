// The central XSUB/XPUB proxy, forwarding on a native thread. Embed it in any Node app.
import { call } from './errors'
import { native } from './load-addon'
import type { NativeProxy, NativeProxyStats } from './native'
import { checkCurveOptions, curvePublicKey, type ProxyCurveOptions } from './curve'

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
  /**
   * Turn on CURVE: both endpoints encrypt, and a ZAP handler admits only clients whose public
   * key is in `allowedClients`. Clients then need `curve` options with `serverKey` set to
   * `proxy.curvePublicKey`. Default: off (plain TCP).
   */
  curve?: ProxyCurveOptions
}

export type ProxyStats = NativeProxyStats

export class Proxy {
  /** The proxy's CURVE public key (for clients' `serverKey`), or undefined without CURVE. */
  readonly curvePublicKey: string | undefined

  private constructor(private readonly native: NativeProxy, curveSecret: string | undefined) {
    this.curvePublicKey = curveSecret === undefined ? undefined : curvePublicKey(curveSecret)
  }

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
          curve: checkCurveOptions(opts.curve, ['secretKey', 'allowedClients'], 'Proxy'),
        }),
    )
    return new Proxy(n, opts.curve?.secretKey)
  }

  /** The bound frontend endpoint (publishers), with the real port. */
  get frontend(): string {
    return this.native.frontend
  }

  /** The bound backend endpoint (subscribers), with the real port. */
  get backend(): string {
    return this.native.backend
  }

  /** Messages and bytes forwarded, distinct live subscriptions, and CURVE handshakes admitted/refused. */
  stats(): ProxyStats {
    return this.native.stats()
  }

  /**
   * Replaces the CURVE allowlist. New handshakes are judged by the new list; connections already
   * admitted stay open until they drop.
   */
  setAllowedClients(publicKeys: string[]): void {
    checkCurveOptions({ allowedClients: publicKeys }, ['allowedClients'], 'setAllowedClients')
    call(() => this.native.setAllowedClients(publicKeys))
  }

  /** Stops forwarding and unbinds. Idempotent. */
  async close(): Promise<void> {
    this.native.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
