// Event: the base class of every message on the bus, and its JSON form on the wire.
//
// The wire JSON is what pydantic's `model_dump_json()` produces for the Python `Event`: the
// event's fields plus `time`, an ISO 8601 UTC timestamp with microseconds. A JS `Date` only holds
// milliseconds, so a decoded event remembers the exact text it arrived with and re-sends that
// text as long as `time` was not changed: Python -> TypeScript -> Python keeps microseconds.

/** Text and value of `time` as received, for exact re-encoding. */
const TIME_TEXT = Symbol('juice.timeText')

/** A class of events: anything constructed with `new` that produces an Event. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventClass<E extends Event = Event> = (abstract new (...args: any[]) => E) & {
  readonly eventName?: string
  readonly name: string
}

export class Event {
  /**
   * Wire type name of this class. Defaults to the class name, as `Message.name()` does upstream.
   * Set it when a minifier renames classes: `static eventName = 'KernelStatusChanged'`.
   * It is not inherited: each subclass has its own name.
   */
  static eventName?: string

  /** When the event happened. Defaults to now; always sent as UTC. */
  time: Date;

  /** @internal */
  declare [TIME_TEXT]?: { ms: number; text: string }

  /**
   * Copies `data` onto the new event. A `time` given as a string or number becomes a `Date`.
   *
   * TypeScript subclasses should declare their fields with `declare` (`declare service: string`)
   * so that class-field initialisation does not overwrite what the constructor assigned.
   */
  constructor(data?: object) {
    this.time = new Date()
    if (data !== undefined && data !== null) {
      Object.assign(this, data)
      if (!(this.time instanceof Date)) this.time = parseTime(this.time as unknown)
    }
  }

  /**
   * Topic of this event, which subscribers can filter on by dot-separated prefix.
   * Defaults to no topic; subclasses override it.
   */
  topic(): string | null {
    return null
  }

  /** The fields sent on the wire. */
  toJSON(): Record<string, unknown> {
    const out = { ...this } as Record<string, unknown>
    out.time = formatTime(this)
    return out
  }
}

/** The wire type name of an event class. */
export function eventTypeName(cls: EventClass): string {
  const own = Object.prototype.hasOwnProperty.call(cls, 'eventName') ? cls.eventName : undefined
  const name = own ?? cls.name
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('event class has no name; set `static eventName = "..."` on it')
  }
  return name
}

/** Validates and returns an event's topic. */
export function eventTopic(event: Event): string | null {
  const topic = event.topic()
  if (topic === null || topic === undefined) return null
  if (typeof topic !== 'string') {
    throw new TypeError(
      `${eventTypeName(event.constructor as EventClass)}.topic() must return a string or null, got ${typeof topic}`,
    )
  }
  return topic
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function formatTime(event: Event): string {
  const t = event.time
  if (!(t instanceof Date) || Number.isNaN(t.getTime())) {
    throw new TypeError(`event time must be a valid Date, got ${String(t)}`)
  }
  const kept = event[TIME_TEXT]
  if (kept !== undefined && kept.ms === t.getTime()) return kept.text
  return (
    `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1, 2)}-${pad(t.getUTCDate(), 2)}` +
    `T${pad(t.getUTCHours(), 2)}:${pad(t.getUTCMinutes(), 2)}:${pad(t.getUTCSeconds(), 2)}` +
    `.${pad(t.getUTCMilliseconds(), 3)}000Z`
  )
}

function parseTime(value: unknown): Date {
  const d = typeof value === 'string' || typeof value === 'number' ? new Date(value) : new Date(NaN)
  if (Number.isNaN(d.getTime())) throw new TypeError(`invalid event time: ${JSON.stringify(value)}`)
  return d
}

/** Serialises an event to its wire JSON. */
export function encodeEvent(event: Event): string {
  return JSON.stringify(event)
}

/**
 * Builds an event of class `cls` from wire JSON. The constructor is not run (pydantic does not
 * run `__init__` either): the instance carries exactly the received fields.
 * Throws on JSON that is not an object or has an unreadable `time`.
 */
export function decodeEvent<E extends Event>(cls: EventClass<E>, json: string): E {
  const data = JSON.parse(json) as unknown
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new TypeError('event payload must be a JSON object')
  }
  const event = Object.create(cls.prototype) as E
  Object.assign(event, data)
  const text = (data as { time?: unknown }).time
  if (text === undefined) {
    event.time = new Date()
  } else {
    event.time = parseTime(text)
    if (typeof text === 'string') {
      Object.defineProperty(event, TIME_TEXT, {
        value: { ms: event.time.getTime(), text },
        enumerable: false,
        writable: true,
      })
    }
  }
  return event
}
