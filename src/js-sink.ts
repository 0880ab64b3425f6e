// The JavaScript ingestion engine: events are decoded into objects and written as line protocol
// by their class's toLineProtocol(), which a class may override for custom conversion.
//
//   SubscriberAsync -> event.toLineProtocol() -> buffer (bounded) -> batch (size or time)
//     -> InfluxWriter (gzip, one request in flight) -> retry with backoff on 5xx/429/network
//
// When the buffer is full the engine stops reading, and the subscriber's own bounded queue takes
// the rest (a lossless subscriber then stops reading too). Events that cannot become points, and
// points the database refuses, are counted as rejected. One bad point costs only itself: a
// partial write is read from InfluxDB's answer, and a refused or oversized batch is split in
// halves and sent again until the refused points are alone (writes are idempotent, so a point the
// server had already stored is only overwritten with itself).
import type { Event, EventClass } from './event'
import { droppedByPartialWrite, InfluxWriter, type WriteOutcome } from './influx'
import { SubscriberAsync, type SubscribeOptions } from './subscriber'
import type { EngineStats, SinkEngine, SinkSettings } from './sink-engine'

export class JsSinkEngine implements SinkEngine {
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
  /** For each line, the number of its event among those received (1-based). */
  private lineEvent: number[] = []
  /** Reading a stream through a durable consumer: acknowledge what is settled. */
  private readonly durable: boolean
  private oldestAt = 0
  private sending: Promise<void> | null = null
  private running: Promise<void> | null = null
  private closing = false
  private giveUpAt = Infinity
  private room: (() => void) | null = null
  private counts = { received: 0, written: 0, batches: 0, retries: 0, rejected: 0, lost: 0 }
  private lastError: string | undefined

  constructor(uri: string, s: SinkSettings) {
    this.batchSize = s.batchSize
    this.maxBatchBytes = s.maxBatchBytes
    this.flushMs = s.flushMs
    this.maxBuffer = s.maxBuffer
    this.retryMin = s.retryMinMs
    this.retryMax = s.retryMaxMs
    this.closeTimeoutMs = s.closeTimeoutMs
    this.writer = new InfluxWriter(s.influx, s.requestTimeoutMs, s.gzipMinBytes)
    this.sub = new SubscriberAsync<never>(uri, s.subscriber)
    this.durable = s.subscriber.durable !== undefined
  }

  subscribe(type: EventClass, opts?: SubscribeOptions): void {
    this.sub.subscribe(type, opts)
  }

  start(): void {
    if (this.running === null) this.running = this.consume()
  }

  stats(): EngineStats {
    const s = this.sub.stats()
    const malformed = s.malformedFrames + s.malformedUtf8 + s.malformedTopic + s.oversized + s.malformedJson
    return { ...this.counts, overflow: s.dropped, buffered: this.lines.length + s.queued, malformed, lastError: this.lastError }
  }

  async close(): Promise<void> {
    if (!this.closing) {
      this.closing = true
      this.giveUpAt = Date.now() + this.closeTimeoutMs
      this.room?.()
    }
    await this.running
    // A durable subscriber stays open to acknowledge the last writes; what is not written by
    // then stays in the stream and is delivered again to the next sink of that name.
    if (!this.durable) await this.sub.close()
    await this.sending
    while (this.lines.length > 0 && Date.now() < this.giveUpAt) await this.flush()
    if (this.durable) await this.sub.close()
    if (this.lines.length > 0) {
      this.counts.lost += this.lines.length
      this.lines = []
      this.lineEvent = []
    }
    this.writer.close()
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
      // The class's own toLineProtocol(): the hook for events that need custom conversion.
      line = ev.toLineProtocol()
    } catch (e) {
      this.counts.rejected++
      this.lastError = (e as Error).message
      return
    }
    if (this.lines.length === 0) this.oldestAt = Date.now()
    this.lines.push(line)
    this.lineEvent.push(this.counts.received)
  }

  /**
   * Durable: every event before the oldest waiting line is settled (stored, or refused and
   * counted), so the stream may forget it. Lines are settled in order, one request at a time.
   */
  private acknowledgeSettled(): void {
    if (!this.durable) return
    const settled = this.lines.length > 0 ? this.lineEvent[0] - 1 : this.counts.received
    this.sub.acknowledge(settled)
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
    this.lineEvent.splice(0, done)
    this.acknowledgeSettled()
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
