// Publishers: encode each event (type name, topic, JSON) in JS into a batch buffer, and hand
// batches to the native publisher, which builds the frames and gives them to libzmq.
//
//   publish(event) -> BatchWriter (UTF-8 into one buffer) -> native trySend/sendBlocking -> XPUB
//
// PublisherAsync sends a batch when it reaches FLUSH_BYTES or on the next turn of the event loop,
// so a tight `await publish()` loop crosses N-API once per few hundred events. PublisherBlocking
// sends at the end of the current task (a microtask), since a blocking script may never give the
// event loop a turn, and before any blocking get() in the process.
import { checkCurveOptions, CLIENT_CURVE_FIELDS, type ClientCurveOptions } from './curve'
import { isUtf8 } from 'node:buffer'
import { call, ClosedError } from './errors'
import { checkDataSurvived, Event, type EventClass, encodeEvent, eventTopic, eventTypeName } from './event'
import { native } from './load-addon'
import { Diagnosis } from './diagnose'
import type { NativePublisher } from './native'
import { BatchWriter } from './records'
import { boolOption, I32_MAX, intOption, limitOption, MAX_SECONDS, secondsOption, stringOption } from './options'
import { checkTopic } from './topic'
import { clientStatus, type ConnectionStatus, type StatusOptions } from './status'

/** Bytes of encoded events at which PublisherAsync sends without waiting for the next tick. */
const FLUSH_BYTES = 32 * 1024

export interface PublisherOptions {
  /** `ZMQ_SNDHWM`: messages libzmq buffers towards the proxy before `publish()` waits. Default 100000. */
  sndHwm?: number
  /**
   * `ZMQ_LINGER`, in seconds: how long `close()` keeps delivering queued events to an
   * unreachable proxy before giving up (and counting them as `unsent`). Default 5.
   */
  linger?: number
  /**
   * Seconds the first events wait for the proxy to report a subscriber, so they are not lost to
   * ZMQ's slow-joiner effect. Upstream Juice waits 5 s; so do we by default. 0 disables the wait.
   */
  subscriptionWait?: number
  /** CURVE keys, required by a proxy started with `curve`. See `generateKeyPair()`. */
  curve?: ClientCurveOptions
  /**
   * Largest message (topic frame plus JSON payload, in bytes) `publish()` accepts; a bigger event
   * is refused with a TypeError. A proxy disconnects a publisher that sends more than its own
   * `maxMessageSize`, losing whatever else was in flight, so keep this at or below the proxy's.
   * -1 for no limit. Default 128 MiB, the proxy's default.
   */
  maxMessageSize?: number
  /**
   * Over NATS (a `nats://` URI, or several separated by commas): the subject prefix events travel
   * under, `<prefix>.<Type>.<topic segments>`. One or more dot-separated tokens. Default `juice`.
   */
  natsPrefix?: string
  /**
   * Over NATS: publish through JetStream. A stream (see `ensureStream()`) must capture the
   * events' subjects; each event gets a message id and waits for the stream's acknowledgement,
   * and one not acknowledged (a node died, the connection moved) is sent again under the same id,
   * which the stream deduplicates. `stats().stored` counts acknowledged events; `close()` waits
   * (up to `linger`) for the last acknowledgements. Default false.
   */
  jetstream?: boolean
}

export interface PublisherStats {
  /** Events accepted by `publish()`. */
  published: number
  /** Events handed to libzmq. */
  sent: number
  /** Times libzmq's pipe was full and the publisher had to wait (backpressure). */
  blocked: number
  /** Events `close()` gave up on after `linger`. */
  unsent: number
  /**
   * Events sent while no subscription was live on the connection: the proxy was down or not yet
   * reached, or nobody subscribed. libzmq discards them; this counts them.
   */
  unrouted: number
  /** Handshakes with the proxy that failed: a refused CURVE key, or security on one side only. */
  handshakeFailures: number
  /** A connection to the proxy is up (its handshake completed). */
  connected: boolean
  /**
   * `close()` ran out of `linger` while libzmq still held events for an unresponsive proxy, and
   * libzmq discarded them. libzmq 4.3 cannot say how many (they were already counted as `sent`);
   * `close()` also emits a `JUICE_LINGER_EXPIRED` process warning. See the README's "What close()
   * counts".
   */
  lingerExpired: boolean
  /** JetStream publishers: events a stream acknowledged (stored). */
  stored: number
  /** JetStream publishers: events no stream acknowledged after every retry (lost, counted). */
  notStored: number
  /**
   * JetStream publishers: events sent again under the same `Nats-Msg-Id` because their
   * acknowledgement did not come (a node died, a leader was being elected); one per repeat. The
   * stream's duplicate window stores each event once.
   */
  resent: number
}

const RESOLVED: Promise<void> = Promise.resolve()
const noop = () => {}

/** Longest linger or subscription wait, in seconds (libzmq takes milliseconds as an i32). */
const MAX_WAIT_S = MAX_SECONDS
const DEFAULT_MAX_MESSAGE = 128 * 1024 * 1024

/** A class's wire type name and its UTF-8 length, checked (by the native codec) once per class. */
interface TypeName {
  name: string
  bytes: number
}
const checkedNames = new WeakMap<object, TypeName>()

function typeNameOf(event: Event): TypeName {
  const cls = event.constructor as EventClass
  let known = checkedNames.get(cls)
  if (known === undefined) {
    const name = eventTypeName(cls)
    call(() => native.validateTypeName(name))
    known = { name, bytes: Buffer.byteLength(name) }
    checkedNames.set(cls, known)
  }
  return known
}

/** Type names of sent frames already validated (bounded: a relay sees a handful of types). */
const checkedFrameTypes = new Map<string, number>()
const MAX_CHECKED_FRAME_TYPES = 4096

/** UTF-8 text of one frame given as a string or bytes, for sendFrame. */
function frameText(part: unknown, what: string): string {
  if (typeof part === 'string') return part
  if (part instanceof Uint8Array) {
    const buf = Buffer.from(part.buffer, part.byteOffset, part.byteLength)
    // Text is what the wire carries; bytes that are not UTF-8 would arrive changed, or be counted
    // as malformed by every subscriber.
    if (!isUtf8(buf)) throw new TypeError(`sendFrame(): the ${what} is not valid UTF-8`)
    return buf.toString('utf8')
  }
  throw new TypeError(`sendFrame(): the ${what} must be a string or bytes, got ${part === null ? 'null' : typeof part}`)
}

abstract class PublisherBase {
  protected readonly native: NativePublisher
  protected readonly writer = new BatchWriter()
  protected closing = false
  protected published = 0
  protected unsent = 0
  /** The URI this publisher connects to. */
  readonly uri: string
  /** @internal */
  readonly lingerMs: number
  private readonly maxMessage: number
  private readonly diagnosis: Diagnosis

  constructor(uri: string, opts: PublisherOptions = {}) {
    if (typeof uri !== 'string') throw new TypeError(`uri must be a string, got ${typeof uri}`)
    this.uri = uri
    const o = 'Publisher'
    this.lingerMs = secondsOption(o, 'linger', opts.linger, MAX_WAIT_S) ?? 5000
    const max = limitOption(o, 'maxMessageSize', opts.maxMessageSize) ?? DEFAULT_MAX_MESSAGE
    this.maxMessage = max === -1 ? Infinity : max
    const nativeOpts = {
      sndHwm: intOption(o, 'sndHwm', opts.sndHwm, 0, I32_MAX),
      lingerMs: this.lingerMs,
      subscriptionWaitMs: secondsOption(o, 'subscriptionWait', opts.subscriptionWait, MAX_WAIT_S),
      curve: checkCurveOptions(opts.curve, CLIENT_CURVE_FIELDS, 'Publisher'),
      natsPrefix: stringOption(o, 'natsPrefix', opts.natsPrefix),
      jetstream: boolOption(o, 'jetstream', opts.jetstream),
    }
    this.native = call(() => new native.NativePublisher(uri, nativeOpts))
    this.diagnosis = new Diagnosis(uri, 'publisher', opts.curve !== undefined)
  }

  /** Encodes one event into the batch; throws TypeError/ClosedError for bad input. */
  protected add(event: Event): void {
    if (this.closing) throw new ClosedError(`publish() called on a closed publisher (${this.uri})`)
    if (!(event instanceof Event)) {
      throw new TypeError(`publish() needs an Event instance, got ${event === null ? 'null' : typeof event}`)
    }
    const type = typeNameOf(event)
    checkDataSurvived(event)
    const topic = eventTopic(event)
    if (topic !== null) checkTopic(topic, `${type.name}.topic()`)
    const size = this.writer.add(type.name, type.bytes, topic, encodeEvent(event), this.maxMessage)
    if (size < 0) {
      throw new TypeError(
        `${type.name} event is ${-size} bytes on the wire; this publisher's maxMessageSize is ${this.maxMessage} bytes (a proxy disconnects publishers that exceed its own limit)`,
      )
    }
    this.published++
  }

  /**
   * Encodes a pre-serialised message (`[topic frame, JSON payload]`, as upstream's `send_frame`
   * takes it) into the batch, checking only its shape: the topic frame is `Type.` or
   * `Type.topic.`; the payload goes out verbatim.
   */
  protected addFrame(frame: unknown): void {
    if (this.closing) throw new ClosedError(`sendFrame() called on a closed publisher (${this.uri})`)
    if (!Array.isArray(frame) || frame.length !== 2) {
      throw new TypeError(`sendFrame() needs [topic frame, payload], got ${Array.isArray(frame) ? `${frame.length} frames` : typeof frame}`)
    }
    const head = frameText(frame[0], 'topic frame')
    const payload = frameText(frame[1], 'payload')
    const dot = head.indexOf('.')
    if (dot <= 0 || !head.endsWith('.')) {
      throw new TypeError(`sendFrame(): topic frame ${JSON.stringify(head.slice(0, 80))} is not "Type." or "Type.topic."`)
    }
    const type = head.slice(0, dot)
    const topic = dot === head.length - 1 ? null : head.slice(dot + 1, -1)
    let typeBytes = checkedFrameTypes.get(type)
    if (typeBytes === undefined) {
      call(() => native.validateTypeName(type))
      typeBytes = Buffer.byteLength(type)
      if (checkedFrameTypes.size < MAX_CHECKED_FRAME_TYPES) checkedFrameTypes.set(type, typeBytes)
    }
    if (topic !== null) checkTopic(topic, 'sendFrame() topic')
    const size = this.writer.add(type, typeBytes, topic, payload, this.maxMessage)
    if (size < 0) {
      throw new TypeError(`sendFrame(): the message is ${-size} bytes on the wire; this publisher's maxMessageSize is ${this.maxMessage} bytes`)
    }
    this.published++
  }

  stats(): PublisherStats {
    const s = this.native.stats()
    return {
      published: this.published,
      sent: s.sent,
      blocked: s.blocked,
      unsent: this.unsent,
      unrouted: s.unrouted,
      handshakeFailures: s.handshakeFailures,
      connected: s.connected,
      lingerExpired: s.lingerExpired,
      stored: s.stored,
      notStored: s.notStored,
      resent: s.resent,
    }
  }

  /** After the native close: makes a discard by libzmq loud, since it cannot be counted. */
  protected reportLingerExpired(): void {
    if (!this.native.stats().lingerExpired) return
    process.emitWarning(
      `close() ran out of linger (${this.lingerMs} ms) with events still queued for ${this.uri}; libzmq discarded them. ` +
        'stats().lingerExpired is set; a longer linger or a responsive proxy avoids this.',
      { code: 'JUICE_LINGER_EXPIRED' },
    )
  }

  /**
   * Why the last handshake with the proxy failed (for example a CURVE key the proxy does not
   * allow), or, for a client that has not connected within a second, what the endpoint says it
   * is (the proxy's other port, a CURVE proxy, not ZeroMQ at all); undefined otherwise. A refused publisher keeps retrying; what it sends meanwhile is unrouted.
   */
  handshakeError(): string | undefined {
    // The probe's answer first: libzmq reports a peer of the wrong socket type only as a
    // handshake that failed "with no detail", as it does for a security mismatch.
    const failed = this.native.handshakeError() ?? undefined
    return this.diagnosis.explain(this.native.stats().connected, failed !== undefined) ?? failed
  }

  get closed(): boolean {
    return this.closing
  }

  /**
   * Changes of the connection to the proxy, as they happen: `connected`, `disconnected`,
   * `reconnected`, `handshakeRefused` (with the reason). Ends when the publisher closes or
   * `signal` aborts.
   *
   * ```ts
   * for await (const s of pub.status()) console.log(s.type)
   * ```
   */
  status(opts?: StatusOptions): AsyncGenerator<ConnectionStatus, void, undefined> {
    return clientStatus(() => this.native.stats(), () => this.handshakeError(), () => this.closing, opts)
  }
}

/**
 * Asynchronous client for publishing events to other Juice services. `publish()` resolves once
 * the event is queued, and waits only while the proxy cannot take more (backpressure).
 *
 * ```ts
 * await using pub = new PublisherAsync('tcp://127.0.0.1:5122')
 * await pub.publish(new KernelStatusChanged({ service: 'q1', status: 'idle' }))
 * // leaving the scope (or pub.close()) delivers what was published, then closes
 * ```
 */
export class PublisherAsync extends PublisherBase {
  /** Set while a batch waits for the proxy (first subscription, or a full pipe). */
  private waiting: Promise<void> | null = null
  private tick: NodeJS.Immediate | null = null
  private failure: unknown = null
  private closed_: Promise<void> | null = null

  /**
   * Publishes an event. Resolves once it is queued for sending; while the proxy cannot take more
   * (or, at first, until it reports a subscriber), resolves only when the backlog has been sent.
   */
  publish(event: Event): Promise<void> {
    try {
      if (this.failure !== null) throw this.failure
      this.add(event)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.queued()
  }

  /**
   * Publishes a pre-serialised message verbatim, as upstream's `send_frame`: `[topic frame,
   * payload]`, where the topic frame is `Type.` or `Type.topic.` and the payload the event's JSON
   * (strings or UTF-8 bytes). For relays and bridges that forward what they received without
   * decoding it. Resolves like `publish()`.
   */
  sendFrame(frame: readonly [string | Uint8Array, string | Uint8Array]): Promise<void> {
    try {
      if (this.failure !== null) throw this.failure
      this.addFrame(frame)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.queued()
  }

  /** After an event was added to the batch: sends now, soon, or after the current wait. */
  private queued(): Promise<void> {
    if (this.waiting !== null) return this.waiting
    if (this.writer.len >= FLUSH_BYTES) return this.flush()
    if (this.tick === null) this.tick = setImmediate(this.onTick)
    return RESOLVED
  }

  private readonly onTick = (): void => {
    this.tick = null
    if (this.waiting === null && this.writer.len > 0) this.flush().catch(noop)
  }

  /** Sends what it can now; if something is left, starts waiting for the proxy. */
  private flush(): Promise<void> {
    try {
      this.writer.consume(call(() => this.native.trySend(this.writer.view())))
    } catch (e) {
      this.failure = e
      return Promise.reject(e)
    }
    if (this.writer.len === 0) return RESOLVED
    const waiting = this.sendRest(Infinity).finally(() => {
      this.waiting = null
    })
    waiting.catch((e) => (this.failure = e))
    this.waiting = waiting
    return waiting
  }

  /** Waits for the proxy and sends until the batch is empty or `deadline` (ms since epoch) passes. */
  private async sendRest(deadline: number): Promise<void> {
    while (this.writer.len > 0 && Date.now() < deadline) {
      await this.native.waitReady(Math.max(1, Math.min(1000, deadline - Date.now())))
      this.writer.consume(call(() => this.native.trySend(this.writer.view())))
    }
  }

  /**
   * Sends everything published so far (waiting up to `linger` for an unreachable proxy; what is
   * left then is counted as `unsent`), then closes. Idempotent.
   */
  close(): Promise<void> {
    if (this.closed_ === null) this.closed_ = this.shutdown()
    return this.closed_
  }

  private async shutdown(): Promise<void> {
    this.closing = true
    if (this.tick !== null) clearImmediate(this.tick)
    if (this.waiting !== null) await this.waiting.catch(noop)
    try {
      if (this.writer.len > 0 && this.failure === null) {
        this.writer.consume(call(() => this.native.trySend(this.writer.view())))
        await this.sendRest(Date.now() + this.lingerMs)
      }
    } catch {
      // Counted below as unsent.
    }
    if (this.writer.len > 0) {
      this.unsent = this.published - this.native.stats().sent
      this.writer.consume(this.writer.len)
    }
    await this.native.close()
    this.reportLingerExpired()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** Blocking publishers holding events not yet handed to libzmq. */
const pendingBlocking = new Set<PublisherBlocking>()

/**
 * Hands every blocking publisher's queued events to libzmq. Called before this library blocks
 * the thread (SubscriberBlocking.get), so a blocking request/reply script never waits on an event
 * it has not sent yet.
 */
export function flushBlockingPublishers(): void {
  for (const p of pendingBlocking) p.flush()
}

// At exit, as in close(), an unresponsive proxy gets `linger` and no more: exit must not hang.
process.once('exit', () => {
  for (const p of pendingBlocking) p.flushWithin(p.lingerMs)
})

/**
 * Synchronous client for publishing events to other Juice services.
 *
 * `publish()` returns once the event is queued. Events published in one synchronous stretch of
 * code are handed to libzmq together: when 32 KiB are queued, when the current task ends, when
 * a `SubscriberBlocking` in this process starts waiting in `get()`, on `flush()`, and on
 * `close()`. Call `flush()` before blocking the thread by other means (`Atomics.wait`,
 * `execSync`) if the events must leave first.
 *
 * ```ts
 * using pub = new PublisherBlocking('tcp://127.0.0.1:5122')
 * pub.publish(new KernelStatusChanged({ service: 'q1', status: 'busy' }))
 * ```
 */
export class PublisherBlocking extends PublisherBase {
  private flushQueued = false
  private readonly flushTask = (): void => {
    this.flushQueued = false
    this.flush()
  }

  /** Queues an event. Blocks only while the proxy cannot take more or, at first, until it reports
   * a subscriber (up to `subscriptionWait`). */
  publish(event: Event): void {
    this.add(event)
    this.queued()
  }

  /** As `PublisherAsync.sendFrame`: a pre-serialised `[topic frame, payload]`, sent verbatim. */
  sendFrame(frame: readonly [string | Uint8Array, string | Uint8Array]): void {
    this.addFrame(frame)
    this.queued()
  }

  private queued(): void {
    if (this.writer.len >= FLUSH_BYTES) {
      this.flush()
      return
    }
    // Registered on every publish, not only when a flush task is queued: a blocking get() may
    // already have flushed (and unregistered) this publisher while its task is still pending.
    pendingBlocking.add(this)
    if (!this.flushQueued) {
      this.flushQueued = true
      queueMicrotask(this.flushTask)
    }
  }

  /** Hands every queued event to libzmq now, blocking while the proxy cannot take more. */
  flush(): void {
    this.flushWithin(null)
  }

  /**
   * As flush(), but gives up after `limitMs` (null: never); what is then still queued is
   * dropped and counted as `unsent`.
   * @internal
   */
  flushWithin(limitMs: number | null): void {
    pendingBlocking.delete(this)
    if (this.writer.len === 0) return
    let taken = 0
    try {
      taken = call(() => this.native.sendBlocking(this.writer.view(), limitMs))
    } finally {
      if (taken < this.writer.len) this.unsent = this.published - this.native.stats().sent
      this.writer.consume(this.writer.len)
    }
  }

  /**
   * Sends what is queued, then closes, waiting up to `linger` in all for an unresponsive proxy:
   * what is still queued in JavaScript then is counted as `unsent`. Idempotent.
   */
  close(): void {
    if (this.closing) return
    try {
      this.flushWithin(this.lingerMs)
    } finally {
      this.closing = true
      this.native.closeBlocking()
      this.reportLingerExpired()
    }
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/** Upstream's other name for {@link PublisherAsync}. */
export class Publisher extends PublisherAsync {}
