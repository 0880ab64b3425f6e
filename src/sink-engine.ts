// What TelemetrySink asks of an ingestion engine (native or JavaScript), and the settings both
// read, checked once by the facade.
import type { EventClass } from './event'
import type { InfluxOptions } from './influx'
import type { SubscribeOptions, SubscriberOptions } from './subscriber'

/** @internal */
export interface SinkSettings {
  influx: InfluxOptions
  subscriber: SubscriberOptions
  batchSize: number
  maxBatchBytes: number
  flushMs: number
  maxBuffer: number
  retryMinMs: number
  retryMaxMs: number
  closeTimeoutMs: number
  requestTimeoutMs: number
  /** Bodies at least this big are gzipped (Infinity: never). */
  gzipMinBytes: number
}

/** @internal */
export interface EngineStats {
  received: number
  written: number
  batches: number
  retries: number
  rejected: number
  overflow: number
  buffered: number
  lost: number
  malformed: number
  lastError: string | undefined
}

/** @internal */
export interface SinkEngine {
  subscribe(type: EventClass, opts?: SubscribeOptions): void
  start(): void
  stats(): EngineStats
  /** Stops reading, writes what is held (up to the close timeout), counts the rest as lost. */
  close(): Promise<void>
}
