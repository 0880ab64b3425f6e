// The central XSUB/XPUB proxy, forwarding on a native thread. Embed it in any Node app.
import { call, TimeoutError, translate } from './errors'
import { diagnoseNow } from './diagnose'
import { boolOption, I32_MAX, intOption, limitOption, secondsOption, U32_MAX } from './options'
import { native } from './load-addon'
import type { NativeProxy, NativeTopicList } from './native'
import { proxyStatus, type ProxyStatus, type StatusOptions } from './status'
import { checkCurveOptions, CLIENT_CURVE_FIELDS, curvePublicKey, type ClientCurveOptions, type ProxyCurveOptions } from './curve'

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
  /**
   * Most distinct topics remembered for {@link Proxy.topics} (and `juice topics`); messages on
   * further new topics are counted in `overflow`. 0 turns topic tracking off. Default 100000.
   */
  maxTopics?: number
  /**
   * A REP endpoint that answers `"topics"` and `"stats"` requests with JSON, for `juice topics`
   * and other tools (e.g. `tcp://127.0.0.1:5124`). Secured like the other endpoints when `curve`
   * is set. Default: none.
   */
  query?: string
  /**
   * Longest subscription (`Type.topic.`, in bytes) passed on to publishers. Longer ones are
   * dropped and counted in `stats().rejectedSubscriptions`; a subscriber whose notice exceeds it
   * by more than 64 bytes is disconnected. Bounds the memory and stack libzmq's subscription tries
   * spend per subscription. From 1 to 65536. Default 4096 (this library's own subscriptions are
   * at most 1282 bytes).
   */
  maxSubscription?: number
  /** Most bytes the topic registry may hold (names plus ~64 bytes each). Default 16 MiB. */
  maxTopicsBytes?: number
}

/** A topic the proxy has forwarded: `Type.topic` (or `Type`), when it was last seen, how often. */
export interface TopicInfo {
  name: string
  lastSeen: Date
  count: number
}

/** Counters of a proxy, from {@link Proxy.stats} or {@link queryStats}. */
export interface ProxyStats {
  /** Whole messages forwarded to subscribers. */
  messages: number
  /** Bytes forwarded, all frames counted. */
  bytes: number
  /** Distinct live subscription prefixes (`Type.topic.`) across all subscribers. */
  subscriptions: number
  /** CURVE handshakes the allowlist admitted. */
  authAccepted: number
  /** CURVE handshakes refused (unlisted key, no CURVE, wrong server key). */
  authDenied: number
  /** Open connections from publishers (frontend). */
  publishers: number
  /** Open connections from subscribers (backend). */
  subscribers: number
  /**
   * Notices from subscribers not passed on to publishers: subscriptions longer than
   * `maxSubscription`, and data a subscriber sent where only subscriptions belong.
   */
  rejectedSubscriptions: number
}

/**
 * The central XSUB/XPUB proxy every publisher and subscriber connects to, run on a native thread
 * inside this process (upstream's `ZMQProxy`; `juice proxy` runs it from the shell). Like a
 * listening server, it runs until `close()`, whether or not a reference to it is kept.
 *
 * ```ts
 * const proxy = await Proxy.start({ frontend: 'tcp://*:5122', backend: 'tcp://*:5123', query: 'tcp://127.0.0.1:5124' })
 * console.log(proxy.stats().messages, proxy.topics().topics.length)
 * await proxy.close()
 * ```
 */
/**
 * Proxies that are running. A proxy is a server: like a listening `http.Server`, it runs until
 * `close()`, whether or not the code that started it still holds a reference (without this, the
 * garbage collector would finalize an unreferenced proxy and unbind its ports mid-run).
 */
const running = new Set<Proxy>()

export class Proxy {
  private isClosed = false
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
    const o = 'Proxy'
    const nativeOpts = {
      frontend: opts.frontend ?? DEFAULT_FRONTEND,
      backend: opts.backend ?? DEFAULT_BACKEND,
      rcvHwm: intOption(o, 'rcvHwm', opts.rcvHwm, 0, I32_MAX),
      sndHwm: intOption(o, 'sndHwm', opts.sndHwm, 0, I32_MAX),
      maxMessageSize: limitOption(o, 'maxMessageSize', opts.maxMessageSize),
      lossless: boolOption(o, 'lossless', opts.lossless),
      curve: checkCurveOptions(opts.curve, ['secretKey', 'allowedClients'], 'Proxy'),
      maxTopics: intOption(o, 'maxTopics', opts.maxTopics, 0, U32_MAX),
      query: opts.query,
      maxSubscription: intOption(o, 'maxSubscription', opts.maxSubscription, 1, 65536),
      maxTopicsBytes: intOption(o, 'maxTopicsBytes', opts.maxTopicsBytes, 0),
    }
    const n = call(() => new native.NativeProxy(nativeOpts))
    const proxy = new Proxy(n, opts.curve?.secretKey)
    running.add(proxy)
    return proxy
  }

  /** The bound frontend endpoint (publishers), with the real port. */
  get frontend(): string {
    return this.native.frontend
  }

  /** The bound backend endpoint (subscribers), with the real port. */
  get backend(): string {
    return this.native.backend
  }

  /** The bound query endpoint, or undefined when none was asked for. */
  get query(): string | undefined {
    return this.native.query ?? undefined
  }

  /**
   * The topics forwarded so far, sorted by name, with when each was last seen, as upstream's
   * task manager lists them. `overflow` counts messages on new topics beyond `maxTopics`.
   */
  topics(): { topics: TopicInfo[]; overflow: number } {
    return topicsReply(this.native.topics())
  }

  /** Messages and bytes forwarded, open publisher/subscriber connections, distinct live subscriptions, and CURVE handshakes admitted/refused. */
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

  /**
   * Who is connected, as it changes: `connections` (open publisher and subscriber connections)
   * and `handshakeRefused` (clients the CURVE allowlist turned away). Ends when the proxy closes
   * or `signal` aborts.
   */
  status(opts?: StatusOptions): AsyncGenerator<ProxyStatus, void, undefined> {
    return proxyStatus(() => this.native.stats(), () => this.isClosed, opts)
  }

  /** Stops forwarding and unbinds. Idempotent. */
  async close(): Promise<void> {
    this.isClosed = true
    running.delete(this)
    this.native.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** The endpoints of a proxy on upstream's ports, from one host name (see {@link proxyEndpoints}). */
export interface ProxyEndpoints {
  /** Where publishers connect: `tcp://HOST:5122`. */
  frontend: string
  /** Where subscribers connect: `tcp://HOST:5123`. */
  backend: string
  /** The query endpoint `juice proxy` opens: `tcp://HOST:5124`. */
  query: string
}

/**
 * A proxy's endpoints on upstream's ports from one address: `proxyEndpoints('lab-pc')` gives
 * `tcp://lab-pc:5122` for publishers and `tcp://lab-pc:5123` for subscribers. Without an
 * argument, the host comes from the `JUICE_PROXY` environment variable, else `127.0.0.1`. IPv6
 * addresses go in brackets (`[::1]`); a leading `tcp://` is accepted.
 */
export function proxyEndpoints(host: string | undefined = process.env.JUICE_PROXY): ProxyEndpoints {
  let h = host === undefined || host.trim() === '' ? '127.0.0.1' : host.trim()
  if (typeof h !== 'string') throw new TypeError(`proxyEndpoints() needs a host name, got ${typeof host}`)
  h = h.replace(/^tcp:\/\//, '')
  if (/[/\s]/.test(h) || /:\d+$/.test(h.replace(/^\[.*\]/, '')) || h.length === 0) {
    throw new TypeError(`proxyEndpoints() needs a host name or address without a port (upstream's ports 5122 and 5123 are added), got ${JSON.stringify(host)}`)
  }
  const at = (port: number) => `tcp://${h}:${port}`
  return { frontend: at(5122), backend: at(5123), query: at(5124) }
}

export interface QueryOptions {
  /** Seconds to wait for the answer. Default 3. */
  timeout?: number
  /** CURVE keys, when the proxy runs with `curve`. */
  curve?: ClientCurveOptions
}

/** What a proxy's query endpoint answers to `"topics"`. */
export interface TopicsReply {
  topics: TopicInfo[]
  overflow: number
}

/**
 * Asks a (possibly remote) proxy's query endpoint for its topics. Rejects with `TimeoutError` when
 * nothing answers in time.
 */
export async function queryTopics(uri: string, opts: QueryOptions = {}): Promise<TopicsReply> {
  return topicsReply(JSON.parse(await ask(uri, 'topics', opts)) as NativeTopicList)
}

/** Asks a proxy's query endpoint for its {@link ProxyStats}. */
export async function queryStats(uri: string, opts: QueryOptions = {}): Promise<ProxyStats> {
  return JSON.parse(await ask(uri, 'stats', opts)) as ProxyStats
}

/** Topic records (from the addon or the query endpoint's JSON, which share a shape) with Dates. */
function topicsReply(raw: NativeTopicList): TopicsReply {
  return { topics: raw.topics.map((t) => ({ name: t.name, lastSeen: new Date(t.lastSeenMs), count: t.count })), overflow: raw.overflow }
}

/** One request to a query endpoint; the wait runs off the event loop. */
async function ask(uri: string, request: string, opts: QueryOptions): Promise<string> {
  if (typeof uri !== 'string') throw new TypeError(`uri must be a string, got ${typeof uri}`)
  const timeoutMs = secondsOption('query', 'timeout', opts.timeout) ?? 3000
  const curve = checkCurveOptions(opts.curve, CLIENT_CURVE_FIELDS, 'query')
  const outcome = await native.proxyQuery(uri, request, timeoutMs, curve ?? null)
  if (outcome.json !== undefined && outcome.json !== null) return outcome.json
  const e = translate(Object.assign(new Error(outcome.message ?? 'query failed'), { code: outcome.code }))
  // No answer: say what is there instead, if the endpoint can tell (a CURVE proxy asked without
  // keys, a publisher or subscriber port).
  const why = e instanceof TimeoutError ? diagnoseNow(uri, 'query', curve !== undefined) : undefined
  if (why !== undefined) throw new TimeoutError(`${(e as Error).message}; ${why}`, { cause: e, diagnosis: why })
  throw e
}
