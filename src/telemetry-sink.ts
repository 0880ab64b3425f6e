// TelemetrySink: subscribes to chosen event types and stores them in InfluxDB, in batches, without
// loss across database outages shorter than its buffer allows.
//
//   SubscriberAsync -> event.toLineProtocol() -> buffer (bounded) -> batch (size or time)
//     -> InfluxWriter (gzip, one request in flight) -> retry with backoff on 5xx/429/network
//
// Nothing is dropped silently: when the buffer is full the sink stops reading, the subscriber's
// own bounded queue takes the rest and counts what it drops (stats().overflow); events that cannot
// become points, and points the database refuses, are counted as rejected. One bad point costs
// only itself: a partial write is read from InfluxDB's answer, and a refused or oversized batch is
// split in halves and sent again until the refused points are alone (writes are idempotent, so a
// point the server had already stored is only overwritten with itself).
import type { Event, EventClass } from './event'
import { lineProtocolOf, schemaOf } from './line-protocol'
import { droppedByPartialWrite, InfluxWriter, type InfluxOptions, type WriteOutcome } from './influx'
import { SubscriberAsync, type SubscribeOptions, type SubscriberOptions } from './subscriber'
import { intOption, MAX_SECONDS, secondsOption } from './options'

export interface TelemetrySinkOptions {
  /** The proxy's subscriber endpoint, e.g. `tcp://127.0.0.1:5123`. */
  uri: string
  influx: InfluxOptions
  /** Options of the sink's subscriber (its queue is the second buffer, after the sink's). */
  subscriber?: SubscriberOptions
  /** Points per request. Default 5000. */
  batchSize?: number
  /** About how many bytes of line protocol one request may carry. Default 1 MiB. */
  maxBatchBytes?: number
  /** Seconds a point may wait for its batch to fill. Default 1. */
  flushInterval?: number
  /** Points held while the database is slow or down; beyond it the sink stops reading. Default 500000. */
  maxBuffer?: number
  /** Backoff between retries, in seconds: starts at `min`, doubles up to `max`. Default 0.1 .. 5. */
  retry?: { min?: number; max?: number }
  /** Seconds `close()` keeps retrying the last points before giving up (and counting them as lost). Default 30. */
  closeTimeout?: number
  /** Seconds one HTTP request may take. Default 10. */
  requestTimeout?: number
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
  /** Events the subscriber dropped because the sink's buffer and its queue were full. */
  overflow: number
  /** Points waiting in the buffer (incl. the batch in flight). */
  buffered: number
  /** Points given up on by `close()` after `closeTimeout`. */
  lost: number
  /** The last error (conversion or write), if any. */
  lastError: string | undefined
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
  private readonly sub: SubscriberAsync<Event>
  private readonly writer: InfluxWriter
  private readonly batchSize: number
  private readonly maxBatchBytes: number
  private readonly flushMs: number
  private readonly maxBuffer: number
  private readonly retryMin: number
  private readonly retryMax: number
  private readonly closeTimeoutMs: number
  /** Lines waiting; `inFlight` of them (from the front) are in the request being sent. */
  private lines: string[] = []
  private oldestAt = 0
  private sending: Promise<void> | null = null
  private running: Promise<void> | null = null
  private closing = false
  private giveUpAt = Infinity
  private room: (() => void) | null = null
  private counts = { received: 0, written: 0, batches: 0, retries: 0, rejected: 0, lost: 0 }
  private lastError: string | undefined

  constructor(opts: TelemetrySinkOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('TelemetrySink needs options { uri, influx }')
    const o = 'TelemetrySink'
    this.batchSize = intOption(o, 'batchSize', opts.batchSize, 1) ?? 5000
    this.maxBatchBytes = intOption(o, 'maxBatchBytes', opts.maxBatchBytes, 1) ?? 1 << 20
    this.flushMs = secondsOption(o, 'flushInterval', opts.flushInterval, MAX_SECONDS, true) ?? 1000
    this.maxBuffer = intOption(o, 'maxBuffer', opts.maxBuffer, 1) ?? 500_000
    this.retryMin = secondsOption(o, 'retry.min', opts.retry?.min, MAX_SECONDS, true) ?? 100
    this.retryMax = secondsOption(o, 'retry.max', opts.retry?.max, MAX_SECONDS, true) ?? 5000
    this.closeTimeoutMs = secondsOption(o, 'closeTimeout', opts.closeTimeout, MAX_SECONDS, true) ?? 30_000
    this.writer = new InfluxWriter(opts.influx, secondsOption(o, 'requestTimeout', opts.requestTimeout, MAX_SECONDS, true) ?? 10_000)
    this.sub = new SubscriberAsync<never>(opts.uri, opts.subscriber)
  }

  /** Stores events of `type` (it needs a static `measurement`), optionally narrowed to a topic. */
  subscribe(type: EventClass, opts?: SubscribeOptions): this {
    // Checks measurement, tags and integer fields now rather than at the first event.
    schemaOf(type)
    this.sub.subscribe(type, opts)
    return this
  }

  /** Starts consuming. Resolves at once; the work runs until `close()`. */
  start(): this {
    if (this.running === null) this.running = this.consume()
    return this
  }

  /**
   * Checks that InfluxDB answers and the database (1.x) or bucket (2.x) exists; `create` makes a
   * missing 1.x database. Rejects with an Error that says what is wrong.
   */
  async checkDatabase(opts: { create?: boolean } = {}): Promise<void> {
    await this.writer.check(opts.create === true)
  }

  stats(): TelemetrySinkStats {
    return { ...this.counts, overflow: this.sub.stats().dropped, buffered: this.lines.length, lastError: this.lastError }
  }

  /**
   * Stops reading, writes everything buffered (retrying for up to `closeTimeout`), then closes the
   * subscriber. What could not be written by then is counted in `lost`. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true
      this.giveUpAt = Date.now() + this.closeTimeoutMs
      this.room?.()
    }
    await this.running
    await this.sub.close()
    await this.sending
    while (this.lines.length > 0 && Date.now() < this.giveUpAt) await this.flush()
    if (this.lines.length > 0) {
      this.counts.lost += this.lines.length
      this.lines = []
    }
    this.writer.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private async consume(): Promise<void> {
    while (!this.closing) {
      if (this.lines.length >= this.maxBuffer) {
        // Full: leave events in the subscriber's queue until a batch has gone out.
        await new Promise<void>((r) => {
          this.room = r
          this.kick()
        })
        this.room = null
        continue
      }
      // While a batch is in flight (or nothing waits) the next deadline is a whole interval away.
      const idle = this.sending !== null || this.lines.length === 0
      const wait = (idle ? this.flushMs : Math.max(0, this.oldestAt + this.flushMs - Date.now())) / 1000
      let ev: Event | undefined
      try {
        ev = await this.sub.get(wait)
      } catch (e) {
        const name = (e as Error).name
        if (name !== 'TimeoutError' && name !== 'ClosedError') throw e
      }
      if (ev !== undefined) this.add(ev)
      if (this.lines.length >= this.batchSize || (this.lines.length > 0 && Date.now() >= this.oldestAt + this.flushMs)) this.kick()
    }
    // Closing: what the subscriber already holds is part of the final flush.
    for (;;) {
      try {
        this.add(await this.sub.get(0))
      } catch {
        return
      }
    }
  }

  private add(ev: Event): void {
    this.counts.received++
    let line: string
    try {
      line = lineProtocolOf(ev)
    } catch (e) {
      this.counts.rejected++
      this.lastError = (e as Error).message
      return
    }
    if (this.lines.length === 0) this.oldestAt = Date.now()
    this.lines.push(line)
  }

  /** Starts sending if nothing is in flight. */
  private kick(): void {
    if (this.sending === null && this.lines.length > 0) {
      this.sending = this.sendFront().finally(() => {
        this.sending = null
        this.room?.()
        // More may have piled up meanwhile.
        if (this.lines.length >= this.batchSize && !this.closing) this.kick()
      })
    }
  }

  private async flush(): Promise<void> {
    this.kick()
    await this.sending
  }

  /** Lines (from the front) of the next batch: up to batchSize of them and about maxBatchBytes. */
  private nextBatchLength(): number {
    const limit = Math.min(this.batchSize, this.lines.length)
    let bytes = 0
    for (let n = 0; n < limit; n++) {
      bytes += this.lines[n].length + 1
      if (bytes > this.maxBatchBytes) return Math.max(1, n)
    }
    return limit
  }

  /** Sends the oldest batch until every point in it is stored or refused, or close() gives up. */
  private async sendFront(): Promise<void> {
    const n = this.nextBatchLength()
    const done = await this.deliver(this.lines.slice(0, n))
    this.lines.splice(0, done)
    if (this.lines.length > 0) this.oldestAt = Date.now()
  }

  /**
   * Writes `batch`, retrying what is worth retrying. A refused batch is settled point by point:
   * from a partial-write answer, or by halving it until each refused point is alone. Returns how
   * many lines from the front are settled (all of them, unless close() gave up meanwhile).
   */
  private async deliver(batch: string[]): Promise<number> {
    let delay = this.retryMin
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) this.counts.retries++
      const r = await this.writer.write(batch.join('\n'))
      if (r.ok) {
        this.counts.written += batch.length
        this.counts.batches++
        return batch.length
      }
      this.lastError = r.error
      if (!r.retry) return this.refused(batch, r)
      const left = this.giveUpAt - Date.now()
      if (left <= 0) return 0
      // The server's Retry-After when it gives one; otherwise backoff with jitter, which keeps
      // many sinks from retrying in step after a shared outage.
      const wait = r.retryAfterMs ?? delay * (0.75 + Math.random() * 0.5)
      await new Promise((res) => setTimeout(res, Math.min(left, wait)))
      delay = Math.min(this.retryMax, delay * 2)
    }
  }

  private async refused(batch: string[], r: WriteOutcome): Promise<number> {
    const dropped = droppedByPartialWrite(r)
    if (dropped !== undefined && dropped <= batch.length) {
      this.counts.written += batch.length - dropped
      this.counts.rejected += dropped
      this.counts.batches++
      return batch.length
    }
    // 400 (a bad line), 413 (too large) and 422 (unprocessable) may be about one point only;
    // 401, 403 and 404 are about the whole database, and splitting would only multiply requests.
    const perPoint = r.status === 400 || r.status === 413 || r.status === 422
    if (!perPoint || batch.length === 1) {
      this.counts.rejected += batch.length
      return batch.length
    }
    const half = batch.length >> 1
    const first = await this.deliver(batch.slice(0, half))
    if (first < half) return first
    return half + (await this.deliver(batch.slice(half)))
  }
}
