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

/**
 * Sinks that are running. The native sink works on its own threads with nothing on the event loop,
 * so without this a sink whose creator kept no reference would be finalized by the garbage
 * collector: ingestion would stop mid-run, and the finalizer would block the JavaScript thread
 * while it wrote out what it held. A sink stays referenced until close().
 */
const running = new Set<NativeSinkEngine>()

export class NativeSinkEngine implements SinkEngine {
  private readonly sink: NativeIngestSink
  private closed: Promise<void> | null = null
  /** Class per wire type name: two classes of one name cannot share a subscription. */
  private readonly byName = new Map<string, EventClass>()

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
    running.add(this)
  }

  subscribe(type: EventClass, opts?: SubscribeOptions): void {
    const topic = opts?.topic
    if (topic !== undefined) checkTopic(topic)
    const name = eventTypeName(type)
    const clash = this.byName.get(name)
    if (clash !== undefined && clash !== type) {
      throw new TypeError(`cannot subscribe to ${type.name}: ${clash.name} is already subscribed under the same type name ${JSON.stringify(name)}`)
    }
    call(() => this.sink.subscribe(name, topic ?? null, nativeSchemaJson(type)))
    this.byName.set(name, type)
  }

  start(): void {
    // The core's threads run from construction; points flow as soon as a subscription exists.
  }

  stats(): EngineStats {
    const s = this.sink.stats()
    return { ...s, lastError: s.lastError ?? undefined }
  }

  close(): Promise<void> {
    if (this.closed === null) this.closed = this.sink.close().finally(() => running.delete(this))
    return this.closed
  }
}
