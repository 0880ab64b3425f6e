// Publishers: encode an event (type name, topic, JSON) in JS and hand it to the native send
// thread, which owns the socket. `publish` only queues; the native thread does the I/O.
import { call, ClosedError } from './errors'
import { Event, EventClass, encodeEvent, eventTopic, eventTypeName } from './event'
import { native } from './load-addon'
import type { NativePublisher, NativePublisherStats } from './native'

export interface PublisherOptions {
  /**
   * Most events queued for the send thread. When full, `PublisherAsync.publish()` waits and
   * `PublisherBlocking.publish()` blocks: backpressure, never a silent drop. Default 100000.
   */
  maxQueue?: number
  /** `ZMQ_SNDHWM`: messages libzmq buffers towards the proxy. Default 100000. */
  sndHwm?: number
  /**
   * `ZMQ_LINGER`, in seconds: how long `close()` keeps delivering queued events to an
   * unreachable proxy before giving up (and counting them as `unsent`). Default 5.
   */
  linger?: number
  /**
   * Seconds the first events wait for the proxy to report a subscriber, so they are not lost to
   * ZMQ's slow-joiner effect. Upstream Juice waits 5 s; so do we by default.
   */
  subscriptionWait?: number
}

export type PublisherStats = NativePublisherStats

const RESOLVED: Promise<void> = Promise.resolve()

function nativeOptions(opts: PublisherOptions) {
  const secs = (v: number | undefined, what: string) => {
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !(v >= 0)) throw new TypeError(`${what} must be a number of seconds >= 0, got ${v}`)
    return Math.round(v * 1000)
  }
  return {
    maxQueue: opts.maxQueue,
    sndHwm: opts.sndHwm,
    lingerMs: secs(opts.linger, 'linger'),
    subscriptionWaitMs: secs(opts.subscriptionWait, 'subscriptionWait'),
  }
}

function frame(event: unknown): [string, string | null, string] {
  if (!(event instanceof Event)) {
    throw new TypeError(`publish() needs an Event instance, got ${event === null ? 'null' : typeof event}`)
  }
  return [eventTypeName(event.constructor as EventClass), eventTopic(event), encodeEvent(event)]
}

abstract class PublisherBase {
  protected readonly native: NativePublisher
  /** The URI this publisher connects to. */
  readonly uri: string

  constructor(uri: string, opts: PublisherOptions = {}) {
    if (typeof uri !== 'string') throw new TypeError(`uri must be a string, got ${typeof uri}`)
    this.uri = uri
    this.native = call(() => new native.NativePublisher(uri, nativeOptions(opts)))
  }

  /** Counters: published, sent, queued, blocked (backpressure waits), unsent. */
  stats(): PublisherStats {
    return this.native.stats()
  }

  get closed(): boolean {
    return this.native.closed
  }

  protected checkOpen(): void {
    if (this.native.closed) throw new ClosedError(`publish() called on a closed publisher (${this.uri})`)
  }
}

/** Asynchronous client for publishing events to other Juice services. */
export class PublisherAsync extends PublisherBase {
  /**
   * Publishes an event. Resolves as soon as it is queued for sending; waits only when the queue
   * is full (backpressure).
   */
  publish(event: Event): Promise<void> {
    try {
      this.checkOpen()
      const [type, topic, payload] = frame(event)
      if (call(() => this.native.tryPublish(type, topic, payload))) return RESOLVED
      return this.publishWhenRoom(type, topic, payload)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  private async publishWhenRoom(type: string, topic: string | null, payload: string): Promise<void> {
    for (;;) {
      await this.native.waitForRoom(1000).catch((e) => {
        throw new ClosedError(`publisher closed while waiting for room (${this.uri})`, { cause: e })
      })
      this.checkOpen()
      if (call(() => this.native.tryPublish(type, topic, payload))) return
    }
  }

  /**
   * Delivers everything published so far (up to `linger`), then closes. Idempotent.
   */
  async close(): Promise<void> {
    await this.native.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** Synchronous client for publishing events to other Juice services. */
export class PublisherBlocking extends PublisherBase {
  /** Publishes an event; blocks only while the send queue is full. */
  publish(event: Event): void {
    this.checkOpen()
    const [type, topic, payload] = frame(event)
    call(() => this.native.publishBlocking(type, topic, payload))
  }

  /** Delivers everything published so far (up to `linger`), then closes. Idempotent. */
  close(): void {
    this.native.closeBlocking()
  }

  [Symbol.dispose](): void {
    this.close()
  }
}

/** The seed's other name for {@link PublisherAsync}. */
export class Publisher extends PublisherAsync {}
