// JetStream administration for Juice events over NATS: streams that keep events (replicated),
// their counts, and the last event of a type and topic (a last-value view for dashboards). The
// work happens in the Rust core, off the JS thread.
import { translate } from './errors'
import { decodeEvent, type Event, type EventClass, eventTypeName } from './event'
import { native } from './load-addon'
import { stringOption } from './options'
import { checkTopic } from './topic'

export interface StreamOptions {
  /** The stream's name (letters, digits, `-`, `_`). */
  name: string
  /** Event classes (or type names) the stream keeps; all types under the prefix when omitted. */
  types?: Array<EventClass | string>
  /** Copies kept on different servers: 3 on a three-node cluster. Default 1. */
  replicas?: number
  /** Seconds an event is kept; unlimited when omitted. */
  maxAge?: number
  /** Keep only the last event of each type and topic: a last-value view. Default false. */
  lastValueOnly?: boolean
  /** The clients' `natsPrefix`. Default `juice`. */
  natsPrefix?: string
}

export interface StreamSummary {
  name: string
  /** NATS subjects the stream captures. */
  subjects: string[]
  replicas: number
  /** Events stored. */
  messages: number
  bytes: number
}

/** The JSON text a request came to, or its error as the library's error class. */
async function admin(job: Promise<{ json?: string | null; code?: string | null; message?: string | null }>): Promise<string> {
  const outcome = await job
  if (outcome.json !== undefined && outcome.json !== null) return outcome.json
  throw translate(Object.assign(new Error(outcome.message ?? 'JetStream request failed'), { code: outcome.code }))
}

function checkNats(nats: unknown): string {
  if (typeof nats !== 'string' || !/^\s*(nats|tls):\/\//.test(nats)) throw new TypeError(`a nats:// URI is required, got ${JSON.stringify(nats)}`)
  return nats
}

/**
 * Creates a stream that keeps Juice events (or checks that the one of that name keeps the same
 * subjects), deduplicating repeats of a message id within 2 minutes. On a cluster that has just
 * started, a replicated stream is retried until its servers have joined (up to 20 s).
 *
 * ```ts
 * await ensureStream('nats://nats1:4222', { name: 'TELEMETRY', types: [FridgeTelemetry], replicas: 3 })
 * ```
 */
export async function ensureStream(nats: string, opts: StreamOptions): Promise<StreamSummary> {
  checkNats(nats)
  if (typeof opts?.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(opts.name)) {
    throw new TypeError(`ensureStream() needs a stream name of letters, digits, '-' and '_', got ${JSON.stringify(opts?.name)}`)
  }
  const replicas = opts.replicas ?? 1
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) throw new TypeError(`replicas must be 1 to 5, got ${String(replicas)}`)
  if (opts.maxAge !== undefined && !(typeof opts.maxAge === 'number' && opts.maxAge > 0)) throw new TypeError(`maxAge must be seconds > 0, got ${String(opts.maxAge)}`)
  const types = (opts.types ?? []).map((t) => (typeof t === 'string' ? t : eventTypeName(t)))
  const json = await admin(
    native.jetstreamEnsureStream(nats, {
      name: opts.name,
      natsPrefix: stringOption('ensureStream', 'natsPrefix', opts.natsPrefix),
      types,
      replicas,
      maxAgeMs: opts.maxAge === undefined ? undefined : opts.maxAge * 1000,
      lastValueOnly: opts.lastValueOnly ?? false,
    }),
  )
  return JSON.parse(json) as StreamSummary
}

/** A stream's subjects and counts. */
export async function streamInfo(nats: string, name: string): Promise<StreamSummary> {
  checkNats(nats)
  return JSON.parse(await admin(native.jetstreamStreamInfo(nats, name))) as StreamSummary
}

/**
 * The last event of `Type` stored under exactly `topic` in `stream`, decoded as `Type`; undefined
 * when there is none.
 */
export async function lastValue<E extends Event>(
  nats: string,
  stream: string,
  Type: EventClass<E>,
  topic: string | null = null,
  opts: { natsPrefix?: string } = {},
): Promise<E | undefined> {
  checkNats(nats)
  if (topic !== null) checkTopic(topic, 'lastValue() topic')
  const json = await admin(native.jetstreamLastValue(nats, stream, stringOption('lastValue', 'natsPrefix', opts.natsPrefix), eventTypeName(Type), topic))
  // The stored payload itself: decoded as a subscriber would, numbers and times as written.
  return json === 'null' ? undefined : decodeEvent(Type, json)
}
