// Subscribers. The native receive thread matches topics exactly and queues matching events as
// record batches; this layer takes a whole batch per N-API call and turns one record at a time
// into an event object (V8's JSON.parse, then the subscribed class's prototype).
//
//   native inbox --(takeOrArmInto / waitTakeInto: copy a batch into one reused Buffer)-->
//   BatchReader --> decodeEvent
import { checkCurveOptions, CLIENT_CURVE_FIELDS, type ClientCurveOptions } from './curve'
import { AbortError, call, ClosedError, JuiceError, TimeoutError } from './errors'
import { decodeEvent, Event, type EventClass, eventTypeName } from './event'
import { native } from './load-addon'
import { Diagnosis } from './diagnose'
import type { NativeSubscriber, NativeSubscriberStats } from './native'
import { BatchReader } from './records'
import { eventClass, RECEIVED_FRAME, typeOfFrame } from './by-name'
import { AsyncQueue } from './queue'
import { flushBlockingPublishers } from './publisher'
import { boolOption, I32_MAX, intOption, limitOption, MAX_SECONDS, secondsOption, stringOption, U32_MAX } from './options'
import { checkTopic } from './topic'
import { clientStatus, type ConnectionStatus, type StatusOptions } from './status'
import { longTimeout } from './timers'

export interface SubscriberOptions {
  /**
   * High-water mark of the native queue between the receive thread and `get()`, in events.
   * Events beyond it are dropped and counted in `stats().dropped`. Default 100000.
   */
  maxQueue?: number
  /** The same bound in bytes. Default 256 MiB. */
  maxQueueBytes?: number
  /** Payloads above this many bytes are skipped and counted as `oversized`. Default 64 MiB. */
  maxPayload?: number
  /** `ZMQ_RCVHWM`: messages libzmq buffers from the proxy. Default 100000. */
  rcvHwm?: number
  /**
   * `ZMQ_MAXMSGSIZE`, in bytes: libzmq drops a connection that sends a bigger message, which
   * protects the process from memory exhaustion. -1 for no limit. Default 128 MiB.
   */
  maxMessageSize?: number
  /**
   * When the queue is full, stop reading instead of dropping: the backlog builds up in libzmq
   * and, with a lossless `Proxy`, holds the publishers back. Default false (drop and count).
   */
  lossless?: boolean
  /** CURVE keys, required by a proxy started with `curve`. See `generateKeyPair()`. */
  curve?: ClientCurveOptions
  /**
   * Keep the topic each event arrived under, for `receivedTopic(event)`. Off by default: it
   * costs a string per event.
   */
  keepTopic?: boolean
  /**
   * Over NATS (a `nats://` URI, or several separated by commas): the subject prefix events travel
   * under, `<prefix>.<Type>.<topic segments>`. One or more dot-separated tokens. Default `juice`.
   */
  natsPrefix?: string
  /**
   * Over NATS: read this JetStream stream (see `ensureStream()`) through the durable consumer
   * named `durable`, instead of live events: a subscriber of the same name resumes where the last
   * one left off, in another process too. Subscriptions filter what it delivers; everything is
   * lossless. Each event is acknowledged once `get()` has returned it, or with `manualAck` only
   * through `acknowledge(n)`; one left unacknowledged for `ackWait` is delivered again (at
   * least once).
   */
  stream?: string
  /** The durable consumer's name (letters, digits, `-`, `_`); goes with `stream`. */
  durable?: string
  /** Acknowledge only through `acknowledge(n)`. Default false. */
  manualAck?: boolean
  /** Seconds the server waits for an acknowledgement before delivering again. Default 30. */
  ackWait?: number
}

export interface SubscribeAllOptions {
  /**
   * Also decode events whose type has no subscribed class, as instances of `eventClass(name)`,
   * instead of skipping them (and counting them in `stats().unknownType`). Default false.
   */
  anyType?: boolean
}

export interface SubscribeOptions {
  /** Dot-separated topic prefix: `"a.b"` matches `"a.b"` and `"a.b.c"`, not `"a.bb"`. */
  topic?: string | null
}

export interface SubscriberStats extends NativeSubscriberStats {
  /** Payloads that were not a JSON object, or had an unreadable `time`. */
  malformedJson: number
  /** Events received through `subscribeAll()` whose type has no subscribed class (and were skipped). */
  unknownType: number
}

export interface GetOptions {
  /** Aborts the wait; `get()` then rejects with `AbortError`. */
  signal?: AbortSignal
}

/** Sizes of the buffer batches are copied into. */
const MIN_READ_BUF = 256 * 1024
/** 1 MiB holds ~8,000 small events: past that, bigger batches save nothing measurable. */
const MAX_READ_BUF = 1024 * 1024
/** Longest single native wait of a blocking get(); see SubscriberBlocking.get. */
const BLOCKING_SLICE_MS = 100

function checkTimeout(timeout: number | null | undefined): void {
  if (timeout !== undefined && timeout !== null && (typeof timeout !== 'number' || !(timeout >= 0))) {
    throw new TypeError(`timeout must be a number of seconds >= 0 or null, got ${String(timeout)}`)
  }
}

/** A subscriber's options, checked, as the addon takes them. @internal */
export function nativeSubscriberOptions(opts: SubscriberOptions) {
  const o = 'Subscriber'
  return {
    maxQueue: intOption(o, 'maxQueue', opts.maxQueue, 1, U32_MAX),
    maxQueueBytes: intOption(o, 'maxQueueBytes', opts.maxQueueBytes, 1),
    maxPayload: intOption(o, 'maxPayload', opts.maxPayload, 0),
    rcvHwm: intOption(o, 'rcvHwm', opts.rcvHwm, 0, I32_MAX),
    maxMessageSize: limitOption(o, 'maxMessageSize', opts.maxMessageSize),
    lossless: boolOption(o, 'lossless', opts.lossless),
    curve: checkCurveOptions(opts.curve, CLIENT_CURVE_FIELDS, 'Subscriber'),
    natsPrefix: stringOption(o, 'natsPrefix', opts.natsPrefix),
    ...durableOptions(opts),
  }
}

function durableOptions(opts: SubscriberOptions) {
  const o = 'Subscriber'
  const stream = stringOption(o, 'stream', opts.stream)
  const durable = stringOption(o, 'durable', opts.durable)
  if ((stream === undefined) !== (durable === undefined)) throw new TypeError('Subscriber options stream and durable go together')
  if (durable !== undefined && !/^[A-Za-z0-9_-]+$/.test(durable)) throw new TypeError(`Subscriber option durable must be letters, digits, '-' and '_', got ${JSON.stringify(durable)}`)
  const manualAck = boolOption(o, 'manualAck', opts.manualAck)
  const ackWaitMs = secondsOption(o, 'ackWait', opts.ackWait, MAX_SECONDS, true)
  if (durable === undefined && (manualAck !== undefined || ackWaitMs !== undefined)) throw new TypeError('Subscriber options manualAck and ackWait need stream and durable')
  return { stream, durable, manualAck, ackWaitMs }
}

/** What SubscriberAsync and SubscriberBlocking share: subscriptions, statistics and closing. */
/**
 * The type of a subscriber's `uri` parameter. A subscriber's event type comes from what it
 * subscribes to, so an explicit type argument (`new SubscriberAsync<A>(uri)`, which would type
 * events of other subscribed classes as `A`) does not compile.
 */
export type SubscriberUri<E> = [E] extends [never] ? string : 'pass no type argument: subscribe(Type) gives get() its type'

export abstract class SubscriberBase<E extends Event = never> {
  protected readonly native: NativeSubscriber
  protected readonly reader = new BatchReader()
  /** Reused for every batch, so taking events allocates nothing. Grows for big events. */
  private readBuf = Buffer.allocUnsafe(MIN_READ_BUF)
  /** Bytes the last take copied, to grow `readBuf` while a backlog is being read. */
  private lastFill = 0
  /** Event class per native type id. */
  private readonly classes: Array<EventClass | undefined> = []
  private readonly byName = new Map<string, EventClass>()
  protected malformedJson = 0
  private unknownType = 0
  /** Decode events of types without a class as `eventClass(name)` (subscribeAll's `anyType`). */
  private anyType = false
  private readonly keepTopic: boolean
  protected isClosed = false
  /** Events taken from the native queue, decodable or not (durable acknowledgement counts these). */
  private taken = 0
  /** With manualAck: for each event returned and not yet acknowledged, `taken` when returned. */
  private readonly returnedAt: number[] = []
  private ackedReturned = 0
  private readonly manualAck: boolean
  /** The URI this subscriber connects to. */
  readonly uri: string
  private readonly diagnosis: Diagnosis

  constructor(uri: string, opts: SubscriberOptions = {}) {
    if (typeof uri !== 'string') throw new TypeError(`uri must be a string, got ${typeof uri}`)
    this.uri = uri
    const o = 'Subscriber'
    const nativeOpts = nativeSubscriberOptions(opts)
    this.keepTopic = boolOption(o, 'keepTopic', opts.keepTopic) ?? false
    this.manualAck = nativeOpts.manualAck === true
    this.native = call(() => new native.NativeSubscriber(uri, nativeOpts))
    this.diagnosis = new Diagnosis(uri, 'subscriber', opts.curve !== undefined)
  }

  /** subscribe(), typed by each subclass. */
  protected addSubscription(typeOrName: EventClass | string, opts: SubscribeOptions = {}): void {
    const type = typeof typeOrName === 'string' ? eventClass(typeOrName) : typeOrName
    const [name, topic] = this.resolve(type, opts)
    const clash = this.byName.get(name)
    if (clash !== undefined && clash !== type) {
      throw new TypeError(
        `cannot subscribe to ${type.name}: ${clash.name} is already subscribed under the same type name ${JSON.stringify(name)}`,
      )
    }
    const id = call(() => this.native.subscribe(name, topic))
    this.byName.set(name, type)
    this.classes[id] = type
  }

  /** subscribeAll(), typed by each subclass. */
  protected addSubscribeAll(opts: SubscribeAllOptions = {}): void {
    if (this.isClosed) throw new ClosedError(`subscribeAll() called on a closed subscriber (${this.uri})`)
    const anyType = boolOption('subscribeAll', 'anyType', opts.anyType) ?? false
    call(() => this.native.subscribeAll())
    if (anyType) this.anyType = true
  }

  /** Removes one earlier `subscribeAll()`. Returns false if there was none. */
  unsubscribeAll(): boolean {
    return call(() => this.native.unsubscribeAll())
  }

  /** Removes one earlier `subscribe` with the same type and topic. Returns false if there was none. */
  unsubscribe(typeOrName: EventClass | string, opts: SubscribeOptions = {}): boolean {
    const type = typeof typeOrName === 'string' ? eventClass(typeOrName) : typeOrName
    const [name, topic] = this.resolve(type, opts)
    return call(() => this.native.unsubscribe(name, topic))
  }

  private resolve(type: EventClass, opts: SubscribeOptions): [string, string | null] {
    if (this.isClosed) throw new ClosedError(`subscribe() called on a closed subscriber (${this.uri})`)
    if (typeof type !== 'function' || !(type.prototype instanceof Event || type === Event)) {
      throw new TypeError('subscribe() needs an Event class')
    }
    const topic = opts.topic ?? null
    if (topic !== null) checkTopic(topic)
    return [eventTypeName(type), topic]
  }

  /**
   * Counters from the receive thread (received, delivered, queued, dropped, each kind of
   * malformed message, unmatched, subscriptions) plus payloads this layer could not decode.
   */
  stats(): SubscriberStats {
    return { ...this.native.stats(), malformedJson: this.malformedJson, unknownType: this.unknownType }
  }

  /**
   * Why the last handshake with the proxy failed (for example a CURVE key the proxy does not
   * allow), or, for a client that has not connected within a second, what the endpoint says it
   * is (the proxy's other port, a CURVE proxy, not ZeroMQ at all); undefined otherwise. A client the proxy refuses keeps retrying and receives nothing.
   */
  handshakeError(): string | undefined {
    // The probe's answer first: libzmq reports a peer of the wrong socket type only as a
    // handshake that failed "with no detail", as it does for a security mismatch.
    const failed = this.native.handshakeError() ?? undefined
    return this.diagnosis.explain(this.native.stats().connected, failed !== undefined) ?? failed
  }

  protected timeoutError(timeout: number | null | undefined): TimeoutError {
    const why = this.handshakeError()
    const message = `no event arrived within ${timeout} s` + (why ? `; the last handshake failed: ${why}` : '')
    return new TimeoutError(message, { diagnosis: why })
  }

  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Changes of the connection to the proxy, as they happen: `connected`, `disconnected`,
   * `reconnected` (libzmq resubscribes by itself), `handshakeRefused` (with the reason). Ends
   * when the subscriber closes or `signal` aborts.
   */
  status(opts?: StatusOptions): AsyncGenerator<ConnectionStatus, void, undefined> {
    return clientStatus(() => this.native.stats(), () => this.handshakeError(), () => this.isClosed, opts)
  }

  /**
   * Durable subscribers with `manualAck`: the first `n` events `get()` returned (counted from the
   * start of this subscriber) are done with, and so is anything skipped before them (malformed,
   * unknown types). The stream may forget them; events not acknowledged within `ackWait` are
   * delivered again. Acknowledging fewer than before does nothing.
   */
  acknowledge(n: number): void {
    if (!this.manualAck) throw new TypeError('acknowledge() needs a durable subscriber created with manualAck: true')
    if (!Number.isInteger(n) || n < 0) throw new TypeError(`acknowledge() needs a count of events >= 0, got ${String(n)}`)
    const k = n - this.ackedReturned
    if (k <= 0) return
    if (k > this.returnedAt.length) throw new RangeError(`acknowledge(${n}): only ${this.ackedReturned + this.returnedAt.length} events have been returned`)
    // The native side counts every event it handed over, returned or skipped here.
    const nativeCount = this.returnedAt[k - 1]
    this.returnedAt.splice(0, k)
    this.ackedReturned = n
    call(() => this.native.acknowledge(nativeCount))
  }

  /** Next decodable event from the current batch, or undefined when the batch is used up. */
  protected nextBuffered(): E | undefined {
    const r = this.reader
    while (r.next()) {
      this.taken++
      const cls = this.classes[r.typeId]
      if (cls === undefined && !this.anyType) {
        this.unknownType++
        continue
      }
      try {
        const ev = decodeEvent(cls ?? eventClass(typeOfFrame(r.topic())), r.payload()) as E
        if (this.keepTopic) (ev as unknown as Record<symbol, string>)[RECEIVED_FRAME] = r.topic()
        if (this.manualAck) this.returnedAt.push(this.taken)
        return ev
      } catch {
        this.malformedJson++
      }
    }
    return undefined
  }

  /**
   * Fills the read buffer from the native queue with `take` (one N-API call per batch) and loads
   * it into the reader. Returns false when `take` found nothing (returned 0).
   */
  protected refill(take: (out: Buffer) => number): boolean {
    const size = this.readBuf.length
    if (size > MAX_READ_BUF) {
      this.readBuf = Buffer.allocUnsafe(MIN_READ_BUF) // after one outsized event
    } else if (this.lastFill > size / 2 && size < MAX_READ_BUF) {
      this.readBuf = Buffer.allocUnsafe(size * 2) // a backlog: take it in bigger pieces
    }
    for (;;) {
      const n = call(() => take(this.readBuf))
      if (n > 0) {
        this.lastFill = n
        this.reader.load(this.readBuf, n)
        return true
      }
      if (n === 0) return false
      this.readBuf = Buffer.allocUnsafe(Math.max(-n, this.readBuf.length * 2))
    }
  }

  protected closedError(): ClosedError {
    return new ClosedError(`get() called on a closed subscriber (${this.uri})`)
  }

  protected closeNative(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.native.close()
  }
}

interface Waiter<E> {
  resolve(event: E): void
  reject(error: unknown): void
  cleanup(): void
}

/** Async subscribers with a pending get(): strongly held while they wait. */
const waiting = new Set<object>()

/**
 * Asynchronous client for subscribing to events from other Juice services. `subscribe()` gives
 * it its event type: the union of the subscribed classes.
 *
 * ```ts
 * await using sub = new SubscriberAsync('tcp://127.0.0.1:5123').subscribe(KernelStatusChanged, { topic: 'q1' })
 * const ev = await sub.get(5) // KernelStatusChanged; TimeoutError after 5 s
 * for await (const next of sub) console.log(next.service, next.status)
 * ```
 */
export class SubscriberAsync<E extends Event = never> extends SubscriberBase<E> implements AsyncIterable<E> {
  private readonly waiters: Waiter<E>[] = []
  private keepAlive: NodeJS.Timeout | null = null
  private listening: AbortController | null = null
  private readonly legacyQueue: AsyncQueue<Event>

  constructor(uri: SubscriberUri<E>, opts: SubscriberOptions & { queue?: AsyncQueue<Event> } = {}) {
    super(uri as string, opts)
    this.legacyQueue = opts.queue ?? new AsyncQueue<Event>()
    // The waker lives in the native receive thread's inbox, which N-API keeps strongly
    // referenced: through a WeakRef, an abandoned subscriber can still be garbage collected,
    // and collecting its native half closes the socket and stops the thread.
    const self = new WeakRef(this)
    this.native.setWaker(() => self.deref()?.onWake())
  }

  /**
   * Subscribes to one event type (exactly that class, not its subclasses), optionally narrowed
   * to a topic prefix. May be called any number of times, also while receiving. A type name
   * instead of a class subscribes with `eventClass(name)`. Returns this subscriber, typed to
   * deliver the union of everything it subscribed to.
   */
  subscribe<T extends Event>(type: EventClass<T>, opts?: SubscribeOptions): SubscriberAsync<E | T>
  subscribe(type: string, opts?: SubscribeOptions): SubscriberAsync<E | Event>
  subscribe(typeOrName: EventClass | string, opts: SubscribeOptions = {}): SubscriberAsync<Event> {
    this.addSubscription(typeOrName, opts)
    return this as unknown as SubscriberAsync<Event>
  }

  /**
   * Receives every event on the bus. Events whose type has a class subscribed here decode to
   * that class; the rest are skipped and counted in `stats().unknownType`, or, with `anyType`,
   * decode as `eventClass(name)`.
   */
  subscribeAll(opts: SubscribeAllOptions = {}): SubscriberAsync<E | Event> {
    this.addSubscribeAll(opts)
    return this as unknown as SubscriberAsync<E | Event>
  }

  /**
   * Next event. Waits until one arrives, or rejects with `TimeoutError` after `timeout` seconds
   * (null or omitted: wait forever), or with `AbortError` when `options.signal` aborts.
   */
  get(timeout?: number | null, options: GetOptions = {}): Promise<E> {
    if (this.isClosed) return Promise.reject(this.closedError())
    try {
      checkTimeout(timeout)
      if (options.signal?.aborted) return Promise.reject(new AbortError())
      if (this.waiters.length === 0) {
        const ready = this.pull()
        if (ready !== undefined) return Promise.resolve(ready)
      }
    } catch (e) {
      return Promise.reject(e)
    }
    return this.wait(timeout ?? null, options.signal)
  }

  private wait(timeout: number | null, signal: AbortSignal | undefined): Promise<E> {
    return new Promise<E>((resolve, reject) => {
      let timer: { cancel(): void } | undefined
      const onAbort = () => {
        this.remove(waiter)
        reject(new AbortError())
      }
      const waiter: Waiter<E> = {
        resolve,
        reject,
        cleanup: () => {
          timer?.cancel()
          signal?.removeEventListener('abort', onAbort)
        },
      }
      if (timeout !== null) {
        timer = longTimeout(() => {
          this.remove(waiter)
          reject(this.timeoutError(timeout))
        }, timeout * 1000)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
      if (this.waiters.length === 1) this.holdLoop(true)
      // Events may have arrived between pull() and now; the waker covers anything later.
      this.onWake()
    })
  }

  private remove(waiter: Waiter<E>): void {
    const i = this.waiters.indexOf(waiter)
    if (i >= 0) {
      this.waiters.splice(i, 1)
      waiter.cleanup()
      if (this.waiters.length === 0) this.holdLoop(false)
    }
  }

  /**
   * A pending get() keeps the process alive, as an awaited socket read would, and keeps this
   * subscriber reachable: its waker is only weakly held, and the pending promise alone does not
   * keep anything alive (nothing but the waker could ever settle it).
   */
  private holdLoop(on: boolean): void {
    if (this.keepAlive === null) {
      this.keepAlive = setInterval(() => {}, 1 << 30)
    }
    if (on) {
      this.keepAlive.ref()
      waiting.add(this)
    } else {
      this.keepAlive.unref()
      waiting.delete(this)
    }
  }

  /** Next event from the current batch or a freshly taken one; arms the waker when empty. */
  private pull(): E | undefined {
    for (;;) {
      const ev = this.nextBuffered()
      if (ev !== undefined) return ev
      if (!this.refill(this.takeOrArm)) return undefined
    }
  }

  private readonly takeOrArm = (out: Buffer): number => this.native.takeOrArmInto(out)

  /** Called from the native thread (through a threadsafe function) when events arrived. */
  private onWake(): void {
    while (this.waiters.length > 0) {
      let ev: E | undefined
      try {
        ev = this.pull()
      } catch (e) {
        this.failAll(e)
        return
      }
      if (ev === undefined) return
      const w = this.waiters.shift() as Waiter<E>
      w.cleanup()
      if (this.waiters.length === 0) this.holdLoop(false)
      w.resolve(ev)
    }
  }

  private failAll(error: unknown): void {
    for (const w of this.waiters.splice(0)) {
      w.cleanup()
      w.reject(error)
    }
    this.holdLoop(false)
  }

  /** `for await (const event of subscriber)`: yields events until the subscriber is closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<E> {
    while (!this.isClosed) {
      try {
        yield await this.get()
      } catch (e) {
        if (e instanceof ClosedError) return
        throw e
      }
    }
  }

  /**
   * Queue that `listen()` fills.
   * @deprecated Use `get()` instead, as upstream Juice advises.
   */
  get queue(): AsyncQueue<Event> {
    return this.legacyQueue
  }

  /**
   * Moves events into `queue` until `stop()` is called.
   * @deprecated Use `get()` instead.
   */
  async listen(): Promise<void> {
    if (this.listening !== null) throw new JuiceError('listen() is already running', 'ERR_JUICE_LISTENING')
    const ctl = new AbortController()
    this.listening = ctl
    try {
      while (!ctl.signal.aborted) {
        let ev: E
        try {
          ev = await this.get(null, { signal: ctl.signal })
        } catch (e) {
          if (e instanceof AbortError && ctl.signal.aborted) return
          throw e
        }
        await this.legacyQueue.put(ev)
      }
    } finally {
      this.listening = null
    }
  }

  /**
   * Stops `listen()`.
   * @deprecated Use `get()` instead.
   */
  stop(): void {
    this.listening?.abort()
  }

  /**
   * Stops the receive thread and rejects pending `get()` calls with `ClosedError`. Idempotent.
   */
  async close(): Promise<void> {
    this.closeSync()
  }

  private closeSync(): void {
    if (this.isClosed) return
    this.stop()
    this.closeNative()
    this.failAll(this.closedError())
    if (this.keepAlive !== null) clearInterval(this.keepAlive)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.closeSync()
  }
}

/**
 * Synchronous, truly blocking client for subscribing to events from other Juice services:
 * `get()` waits in native code, with no event loop turning.
 *
 * ```ts
 * using sub = new SubscriberBlocking('tcp://127.0.0.1:5123').subscribe(KernelStatusChanged)
 * const ev = sub.get(5) // blocks up to 5 s
 * ```
 */
export class SubscriberBlocking<E extends Event = never> extends SubscriberBase<E> {
  constructor(uri: SubscriberUri<E>, opts: SubscriberOptions = {}) {
    super(uri as string, opts)
  }

  /**
   * Subscribes to one event type (exactly that class, not its subclasses), optionally narrowed
   * to a topic prefix. May be called any number of times, also while receiving. A type name
   * instead of a class subscribes with `eventClass(name)`. Returns this subscriber, typed to
   * deliver the union of everything it subscribed to.
   */
  subscribe<T extends Event>(type: EventClass<T>, opts?: SubscribeOptions): SubscriberBlocking<E | T>
  subscribe(type: string, opts?: SubscribeOptions): SubscriberBlocking<E | Event>
  subscribe(typeOrName: EventClass | string, opts: SubscribeOptions = {}): SubscriberBlocking<Event> {
    this.addSubscription(typeOrName, opts)
    return this as unknown as SubscriberBlocking<Event>
  }

  /**
   * Receives every event on the bus. Events whose type has a class subscribed here decode to
   * that class; the rest are skipped and counted in `stats().unknownType`, or, with `anyType`,
   * decode as `eventClass(name)`.
   */
  subscribeAll(opts: SubscribeAllOptions = {}): SubscriberBlocking<E | Event> {
    this.addSubscribeAll(opts)
    return this as unknown as SubscriberBlocking<E | Event>
  }

  /**
   * Next event. Blocks the calling thread in native code (no event loop turns, no busy wait)
   * until one arrives, or throws `TimeoutError` after `timeout` seconds (null: forever).
   */
  get(timeout?: number | null): E {
    if (this.isClosed) throw this.closedError()
    checkTimeout(timeout)
    const deadline = timeout === undefined || timeout === null ? Infinity : performance.now() + timeout * 1000
    for (;;) {
      const ev = this.nextBuffered()
      if (ev !== undefined) return ev
      flushBlockingPublishers()
      // The native wait is cut into slices that return to JavaScript: a thread terminating
      // (worker.terminate(), process.exit() with workers blocked here) is noticed by V8 only
      // while JavaScript runs, so one unbounded native wait would hang the teardown for good.
      for (;;) {
        const left = Math.max(0, deadline - performance.now())
        if (this.refill((out) => this.native.waitTakeInto(out, Math.min(left, BLOCKING_SLICE_MS)))) break
        if (left <= BLOCKING_SLICE_MS) throw this.timeoutError(timeout)
      }
    }
  }

  /** Stops the receive thread. Idempotent. */
  close(): void {
    this.closeNative()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/** Upstream's other name for {@link SubscriberAsync}. */
export class Subscriber<E extends Event = never> extends SubscriberAsync<E> {}
