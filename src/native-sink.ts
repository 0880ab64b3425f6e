// The native ingestion engine: the Rust core subscribes, turns each payload into line protocol
// and writes it to InfluxDB on its own threads; JavaScript only configures it and reads its
// counters. Lines are byte for byte those of the class's default toLineProtocol() (tested).
import type { EventClass } from './event'
import { eventTypeName, reservedKeysOf } from './event'
import { call } from './errors'
import { native } from './load-addon'
import { storageSchemaOf } from './line-protocol'
import type { NativeIngestSink } from './native-types'
import type { EngineStats, SinkEngine, SinkSettings } from './sink-engine'
import { nativeSubscriberOptions, type SubscribeOptions } from './subscriber'
import { checkTopic } from './topic'

/** The storage schema of `cls` as the core reads it (JSON). @internal */
export function nativeSchemaJson(cls: EventClass): string {
  return JSON.stringify({ ...storageSchemaOf(cls), reserved: [...reservedKeysOf(cls)] })
}

export class NativeSinkEngine implements SinkEngine {
  private readonly sink: NativeIngestSink
  private closed: Promise<void> | null = null

  constructor(uri: string, s: SinkSettings) {
    const influx = { ...s.influx }
    this.sink = call(
      () =>
        new native.NativeIngestSink(uri, nativeSubscriberOptions({ maxQueue: s.maxBuffer, lossless: true, ...s.subscriber }), influx, {
          batchSize: s.batchSize,
          maxBatchBytes: s.maxBatchBytes,
          flushIntervalMs: s.flushMs,
          retryMinMs: s.retryMinMs,
          retryMaxMs: s.retryMaxMs,
          closeTimeoutMs: s.closeTimeoutMs,
          requestTimeoutMs: s.requestTimeoutMs,
          gzipMinBytes: Number.isFinite(s.gzipMinBytes) ? s.gzipMinBytes : 0xffff_ffff,
        }),
    )
  }

  subscribe(type: EventClass, opts?: SubscribeOptions): void {
    const topic = opts?.topic
    if (topic !== undefined) checkTopic(topic)
    call(() => this.sink.subscribe(eventTypeName(type), topic ?? null, nativeSchemaJson(type)))
  }

  start(): void {
    // The core's threads run from construction; points flow as soon as a subscription exists.
  }

  stats(): EngineStats {
    const s = this.sink.stats()
    return { ...s, lastError: s.lastError ?? undefined }
  }

  close(): Promise<void> {
    if (this.closed === null) this.closed = this.sink.close()
    return this.closed
  }
}
