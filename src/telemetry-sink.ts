// TelemetrySink: subscribes to chosen event types and stores them in InfluxDB, in batches, exactly:
// every event taken is written, rejected (and counted) or, if close() gives up, counted as lost.
//
// Two engines do the work (src/sink-engine.ts):
// - native (default): the Rust core reads, converts and writes on its own threads
//   (src/native-sink.ts); JavaScript only configures it and reads counters;
// - js: events become objects and their class's toLineProtocol() writes the line
//   (src/js-sink.ts), for classes that override it and for https.
// Both write the same bytes for the same event (tested), and both are lossless by default: when
// InfluxDB is slow or down they stop reading, so backpressure reaches the publishers.
import type { EventClass } from './event'
import { usesDefaultLineProtocol } from './point'
import { schemaOf } from './line-protocol'
import { GZIP_MIN_BYTES, InfluxWriter, type InfluxOptions } from './influx'
import type { SubscribeOptions, SubscriberOptions } from './subscriber'
import { boolOption, intOption, MAX_SECONDS, secondsOption } from './options'
import { JsSinkEngine } from './js-sink'
import { NativeSinkEngine } from './native-sink'
import type { SinkEngine } from './sink-engine'

export interface TelemetrySinkOptions {
  /** The proxy's subscriber endpoint, e.g. `tcp://127.0.0.1:5123`. */
  uri: string
  influx: InfluxOptions
  /**
   * Which engine converts and writes: `'native'` (the default for http URLs) does it in Rust,
   * off the JavaScript thread; `'js'` (the default for https) calls each event's
   * `toLineProtocol()`, so a class can override it for custom conversion.
   */
  engine?: 'native' | 'js'
  /**
   * Stop reading when the sink holds `maxBuffer` events, so that (behind a lossless proxy)
   * publishers wait instead of anything being dropped. Default true. With false, events beyond
   * the subscriber's queue are dropped and counted in `overflow`.
   */
  lossless?: boolean
  /** Options of the sink's subscriber (`lossless` overrides the option above). */
  subscriber?: SubscriberOptions
  /**
   * Over NATS: read a JetStream stream through a durable consumer (see `ensureStream()`), and
   * acknowledge each event only once InfluxDB has stored it (or refused it, counted). A sink
   * killed and started again with the same `name` resumes where the last one left off: nothing
   * is lost, and what was stored but not yet acknowledged is written again, which InfluxDB
   * stores once (the same point overwrites itself). Needs the `'js'` engine (the default here).
   * `ackWait` (seconds, default 30) is how long the server waits before delivering again.
   */
  durable?: { stream: string; name: string; ackWait?: number }
  /** Points per request. Default 5000. */
  batchSize?: number
  /** About how many bytes of line protocol one request may carry. Default 1 MiB. */
  maxBatchBytes?: number
  /** Seconds a point may wait for its batch to fill. Default 1. */
  flushInterval?: number
  /** Events held while the database is slow or down; beyond it the sink stops reading. Default 500000. */
  maxBuffer?: number
  /** Backoff between retries, in seconds: starts at `min`, doubles up to `max`. Default 0.1 .. 5. */
  retry?: { min?: number; max?: number }
  /** Seconds `close()` keeps retrying the last points before giving up (and counting them as lost). Default 30. */
  closeTimeout?: number
  /** Seconds one HTTP request may take. Default 10. */
  requestTimeout?: number
  /**
   * Gzip request bodies of 4 KiB or more. Default: yes, unless InfluxDB is on loopback
   * (`localhost`, `127.x`, `::1`), where compressing costs CPU on both ends and saves nothing.
   */
  gzip?: boolean
}

export interface TelemetrySinkStats {
  /** Events taken from the subscriber. */
  received: number
  /** Points the database accepted. */
  written: number
  /** Requests that succeeded. */
  batches: number
  /** Requests sent again after a failure. */
  retries: number
  /** Events that could not become points, or points in batches the database refused (4xx). */
  rejected: number
  /** Messages from the network that were not well-formed events (never stored). */
  malformed: number
  /** Events dropped because the sink was full (only with `lossless: false`). */
  overflow: number
  /** Events held: queued, or in batches not yet written (incl. the one in flight). */
  buffered: number
  /** Points given up on by `close()` after `closeTimeout`. */
  lost: number
  /** The last error (conversion or write), if any. */
  lastError: string | undefined
}

/** Whether `url` points at this machine, where compression saves nothing. */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname
  return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host)
}

/**
 * Stores subscribed events in InfluxDB 1.x or 2.x as line protocol, batched, retried and
 * accounted for (`stats()`), as upstream stores its `Point`s.
 *
 * ```ts
 * const sink = new TelemetrySink({ uri: 'tcp://127.0.0.1:5123', influx: { version: 1, url: 'http://127.0.0.1:8086', database: 'lab' } })
 *   .subscribe(FridgeReading)
 *   .start()
 * // ... later: writes what it holds, then stops
 * await sink.close()
 * ```
 */
export class TelemetrySink {
  /** The engine doing the work (see {@link TelemetrySinkOptions.engine}). */
  readonly engine: 'native' | 'js'
  private readonly impl: SinkEngine
  private readonly influx: InfluxOptions
  private readonly requestTimeoutMs: number

  constructor(opts: TelemetrySinkOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('TelemetrySink needs options { uri, influx }')
    const o = 'TelemetrySink'
    if (opts.engine !== undefined && opts.engine !== 'native' && opts.engine !== 'js') {
      throw new TypeError(`TelemetrySink: engine must be 'native' or 'js', got ${JSON.stringify(opts.engine)}`)
    }
    // Checks the InfluxDB options (and throws a TypeError naming what is wrong) for either engine.
    this.requestTimeoutMs = secondsOption(o, 'requestTimeout', opts.requestTimeout, MAX_SECONDS, true) ?? 10_000
    new InfluxWriter(opts.influx, this.requestTimeoutMs).close()
    this.influx = opts.influx
    const https = /^https:/i.test(opts.influx.url)
    if (opts.durable !== undefined && (typeof opts.durable !== 'object' || opts.durable === null)) {
      throw new TypeError('TelemetrySink option durable must be { stream, name, ackWait? }')
    }
    if (opts.durable !== undefined && opts.engine === 'native') {
      throw new TypeError("TelemetrySink: a durable consumer needs engine: 'js' (the native engine reads live events only)")
    }
    this.engine = opts.engine ?? (https || opts.durable !== undefined ? 'js' : 'native')
    if (this.engine === 'native' && https) {
      throw new TypeError(`TelemetrySink: the native engine writes plain http; ${opts.influx.url} needs engine: 'js'`)
    }
    const lossless = boolOption(o, 'lossless', opts.lossless) ?? true
    const settings = {
      influx: opts.influx,
      subscriber: {
        lossless,
        ...opts.subscriber,
        ...(opts.durable === undefined
          ? {}
          : { stream: opts.durable.stream, durable: opts.durable.name, ackWait: opts.durable.ackWait, manualAck: true }),
      },
      batchSize: intOption(o, 'batchSize', opts.batchSize, 1, 0xffff_ffff) ?? 5000,
      maxBatchBytes: intOption(o, 'maxBatchBytes', opts.maxBatchBytes, 1, 0xffff_ffff) ?? 1 << 20,
      flushMs: secondsOption(o, 'flushInterval', opts.flushInterval, MAX_SECONDS, true) ?? 1000,
      maxBuffer: intOption(o, 'maxBuffer', opts.maxBuffer, 1, 0xffff_ffff) ?? 500_000,
      retryMinMs: secondsOption(o, 'retry.min', opts.retry?.min, MAX_SECONDS, true) ?? 100,
      retryMaxMs: secondsOption(o, 'retry.max', opts.retry?.max, MAX_SECONDS, true) ?? 5000,
      closeTimeoutMs: secondsOption(o, 'closeTimeout', opts.closeTimeout, MAX_SECONDS, true) ?? 30_000,
      requestTimeoutMs: this.requestTimeoutMs,
      gzipMinBytes: (boolOption(o, 'gzip', opts.gzip) ?? !isLoopback(opts.influx.url)) ? GZIP_MIN_BYTES : Infinity,
    }
    this.impl = this.engine === 'native' ? new NativeSinkEngine(opts.uri, settings) : new JsSinkEngine(opts.uri, settings)
  }

  /**
   * Stores events of `type` (it needs a static `measurement`), optionally narrowed to a topic.
   * With the native engine, a class that overrides `toLineProtocol()` is refused (its override
   * cannot run there): use `engine: 'js'` for it.
   */
  subscribe(type: EventClass, opts?: SubscribeOptions): this {
    // Checks measurement, tags and field types now rather than at the first event.
    schemaOf(type)
    if (this.engine === 'native' && !usesDefaultLineProtocol(type)) {
      throw new TypeError(`${type.name} overrides toLineProtocol(), which the native engine cannot run; create the sink with engine: 'js'`)
    }
    this.impl.subscribe(type, opts)
    return this
  }

  /** Starts consuming. Resolves at once; the work runs until `close()`. */
  start(): this {
    this.impl.start()
    return this
  }

  /**
   * Checks that InfluxDB answers and the database (1.x) or bucket (2.x) exists; `create` makes a
   * missing 1.x database. Rejects with an Error that says what is wrong.
   */
  async checkDatabase(opts: { create?: boolean } = {}): Promise<void> {
    const w = new InfluxWriter(this.influx, this.requestTimeoutMs)
    try {
      await w.check(opts.create === true)
    } finally {
      w.close()
    }
  }

  stats(): TelemetrySinkStats {
    return this.impl.stats()
  }

  /**
   * Stops reading, writes everything held (retrying for up to `closeTimeout`), then closes the
   * subscriber. What could not be written by then is counted in `lost`. Idempotent.
   */
  async close(): Promise<void> {
    await this.impl.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
