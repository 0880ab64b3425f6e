// Event: the base class of every message on the bus, and its JSON form on the wire.
//
// The wire JSON is what pydantic's `model_dump_json()` produces for the Python `Event`: the
// event's fields plus `time`, an ISO 8601 timestamp (pydantic writes microseconds and `Z`). A JS
// `Date` only holds milliseconds, so a decoded event's time remembers the exact text it arrived
// with and re-sends that text as long as it was not changed: Python -> TypeScript -> Python keeps
// microseconds.
import { lineProtocolOf } from './line-protocol'

/** Second (epoch seconds) and ISO prefix `YYYY-MM-DDTHH:MM:SS.` of the last formatted time. */
let cachedSecond = NaN
let cachedPrefix = ''

/** '000' to '999': fraction digits without number-to-string conversion or padding per event. */
const DIGITS3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))

/**
 * ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes it (plus microseconds
 * when `us` is given), but reusing the date-and-seconds part while it stays the same: telemetry
 * stamps many events per second, and V8's own formatting costs more than serialising the rest
 * of a small event.
 */
function isoTime(ms: number, us = -1): string {
  const second = Math.floor(ms / 1000)
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString()
    cachedPrefix = iso.slice(0, iso.length - 4)
    cachedSecond = second
  }
  const head = cachedPrefix + DIGITS3[ms - second * 1000]
  return us < 0 ? head + 'Z' : head + DIGITS3[us] + 'Z'
}

/** The `Date` an event's `time` holds by default: serialises fast, and always in UTC. */
export class EventTime extends Date {
  /** Nanoseconds beyond the millisecond this Date holds (0 unless read from finer text). */
  subMillisecondNanos(): number {
    return 0
  }

  override toJSON(): string {
    const ms = this.getTime()
    if (Number.isNaN(ms)) throw new TypeError('event time is an invalid Date')
    return isoTime(ms)
  }
}

/** Last default stamp handed out: epoch ms and microseconds within it. */
let lastMs = -Infinity
let lastUs = 0

/**
 * "Now" for a new event, unique within the process: events made within one millisecond get
 * successive microseconds (.123000, .123001, ...), so a burst of events never shares a timestamp
 * (InfluxDB would keep only the last point of a series per timestamp). Clock reads stay accurate
 * to the millisecond; only beyond 1,000 events in one millisecond does the stamp run ahead.
 */
class NowTime extends EventTime {
  private readonly us: number
  private readonly ms: number
  constructor() {
    const now = Date.now()
    if (now > lastMs) {
      lastMs = now
      lastUs = 0
    } else if (++lastUs === 1000) {
      lastMs++
      lastUs = 0
    }
    super(lastMs)
    this.ms = lastMs
    this.us = lastUs
  }

  override subMillisecondNanos(): number {
    return this.getTime() === this.ms ? this.us * 1000 : 0
  }

  override toJSON(): string {
    const ms = this.getTime()
    if (this.us === 0 || ms !== this.ms) return super.toJSON()
    // The same text isoTime() makes, with three more digits, built in one go.
    return isoTime(ms, this.us)
  }
}

/** `YYYY-MM-DDTHH:MM:SS` and its epoch ms, of the last time parsed by `parseWireTime`. */
let parsedPrefix = '\0'
let parsedPrefixMs = NaN

/** Value of the decimal digit at `i`, or NaN. */
function digitAt(text: string, i: number): number {
  const d = text.charCodeAt(i) - 48
  return d >= 0 && d <= 9 ? d : NaN
}

/**
 * Epoch ms of a wire time. pydantic writes UTC as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`; that shape is
 * read here, reusing the date-and-seconds part while it repeats (the common case costs no
 * allocation). Anything else (offsets, other precisions) goes to `Date.parse`; a timestamp
 * without an offset is taken as UTC.
 */
function parseWireTime(text: string): number {
  const n = text.length
  if (n >= 20 && text.charCodeAt(n - 1) === 90 /* Z */ && (n === 20 || text.charCodeAt(19) === 46) /* . */) {
    const digits = n - 21
    if (n === 20 || (digits >= 1 && digits <= 9)) {
      // indexOf is several times cheaper than startsWith in Node 20's V8, and equivalent here.
      if (text.indexOf(parsedPrefix) !== 0) {
        const prefix = text.slice(0, 19)
        parsedPrefixMs = Date.parse(prefix + 'Z')
        parsedPrefix = prefix
      }
      if (n === 20) return parsedPrefixMs
      const frac =
        digitAt(text, 20) * 100 + (digits >= 2 ? digitAt(text, 21) * 10 : 0) + (digits >= 3 ? digitAt(text, 22) : 0)
      if (!Number.isNaN(frac)) return parsedPrefixMs + frac
    }
  }
  // A naive timestamp (no offset) would be read as local time by Date.parse; Juice stores UTC.
  return Date.parse(NAIVE_ISO.test(text) ? text + 'Z' : text)
}

const NAIVE_ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/

/**
 * A `time` decoded from the wire. It remembers the exact text it arrived with and serialises
 * back to that text while its value is unchanged, so microseconds survive a relay.
 */
class WireTime extends EventTime {
  private readonly text: string
  private readonly ms: number
  constructor(text: string) {
    super(parseWireTime(text))
    this.text = text
    this.ms = this.getTime()
  }
  override toJSON(): string {
    return this.getTime() === this.ms ? this.text : super.toJSON()
  }

  override subMillisecondNanos(): number {
    if (this.getTime() !== this.ms) return 0
    const frac = /T[\d:]+\.(\d+)/.exec(this.text)?.[1]
    return frac === undefined || frac.length <= 3 ? 0 : Number(frac.slice(3, 9).padEnd(6, '0'))
  }
}

/**
 * A time from ISO 8601 text that serialises back to the same text (keeping microseconds), for
 * tools that take a time as text. Throws on text that is not a time.
 */
export function timeFromText(text: string): Date {
  const t = new WireTime(text)
  if (Number.isNaN(t.getTime())) throw new TypeError(`not an ISO 8601 time: ${JSON.stringify(text)}`)
  return t
}

/** How a field is stored in InfluxDB (see {@link Event.fields}). */
export type FieldType = 'float' | 'int' | 'bool' | 'string'

/** A class of events: anything constructed with `new` that produces an Event. */
// biome-ignore lint/suspicious/noExplicitAny: constructor parameters must be `any` for subclasses' own signatures to be assignable
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

  /**
   * InfluxDB measurement this class is stored as (required for storage, unique per class, not
   * inherited), as upstream's `Point.measurement`.
   */
  static measurement?: string

  /** Fields stored as InfluxDB tags (strings); every other field is an InfluxDB field. */
  static tags?: readonly string[]

  /**
   * Number fields stored as InfluxDB integers (`42i`). JSON has one number type, so numbers are
   * floats unless listed here (or given as `bigint`); one field must keep one type in InfluxDB.
   */
  static integerFields?: readonly string[]

  /**
   * The storage type of each field, declared like the fields of the class's Python twin:
   * `{ kelvin: 'float', count: 'int', on: 'bool', name: 'string' }`. With it, a point is stored as
   * upstream's InfluxDB client stores the Python event: ints as integers, NaN and infinities
   * (numbers, or pydantic's `"NaN"`/`"Infinity"` text) left out of float fields, tags formatted as
   * Python prints them (`True`, `2.0`), nested objects refused. Fields it does not name (other
   * than tags and `time`) are an error, not silently dropped. Overrides `integerFields`.
   */
  static fields?: Readonly<Record<string, FieldType>>

  /** When the event happened. Defaults to now; always sent as UTC. */
  time: Date

  /**
   * Copies `data` onto the new event. A `time` given as a string or number becomes a `Date`.
   *
   * TypeScript subclasses should declare their fields with `declare` (`declare service: string`)
   * so that class-field initialisation does not overwrite what the constructor assigned.
   */
  constructor(data?: object) {
    this.time = new NowTime()
    if (data !== undefined && data !== null) {
      const bad = shadowingKey(this.constructor as EventClass, data)
      if (bad !== undefined) {
        throw new TypeError(
          `${(this.constructor as EventClass).name} data has a field ${JSON.stringify(bad)}, which would replace the event's prototype or one of its methods`,
        )
      }
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

  /**
   * What `console.log(event)` and `util.inspect` show: the class name and the fields, with `time`
   * as a plain `Date` (not the internal objects that keep its exact wire text).
   */
  [Symbol.for('nodejs.util.inspect.custom')](
    depth: number,
    options: { depth?: number | null },
    inspect: (value: unknown, options: object) => string,
  ): string {
    const name = (this.constructor as EventClass).name
    if (depth < 0) return `[${name}]`
    const shown: Record<string, unknown> = {}
    for (const k of Object.keys(this)) shown[k] = (this as unknown as Record<string, unknown>)[k]
    if (this.time instanceof Date) shown.time = new Date(this.time.getTime())
    const deeper = options.depth === null || options.depth === undefined ? options.depth : options.depth - 1
    return `${name} ${inspect(shown, { ...options, depth: deeper })}`
  }

  /** This event as one line of InfluxDB line protocol (nanosecond timestamp, no newline). */
  toLineProtocol(): string {
    return lineProtocolOf(this)
  }
}

/** Per class: the names data must not take (methods and accessors of its prototype chain). */
const reservedKeys = new WeakMap<object, Set<string>>()

function reservedOf(cls: EventClass): Set<string> {
  let names = reservedKeys.get(cls)
  if (names === undefined) {
    names = new Set(['__proto__'])
    for (let p: object | null = cls.prototype; p !== null; p = Object.getPrototypeOf(p)) {
      for (const k of Object.getOwnPropertyNames(p)) {
        const d = Object.getOwnPropertyDescriptor(p, k)
        if (d !== undefined && (typeof d.value === 'function' || d.get !== undefined || d.set !== undefined)) names.add(k)
      }
    }
    reservedKeys.set(cls, names)
  }
  return names
}

/**
 * The first key of `data` that would not be plain data on an event of `cls`: `__proto__` (which
 * `Object.assign` turns into a prototype change) or the name of a method or accessor, such as
 * `topic` or `constructor`. Wire data is attacker-controlled: such a payload is refused, not
 * merged.
 */
function shadowingKey(cls: EventClass, data: object): string | undefined {
  const reserved = reservedOf(cls)
  for (const k in data) {
    if (reserved.has(k) && Object.hasOwn(data, k)) return k
  }
  return undefined
}

/** The wire type name of an event class. */
export function eventTypeName(cls: EventClass): string {
  const own = Object.hasOwn(cls, 'eventName') ? cls.eventName : undefined
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

/**
 * The same instant as ISO 8601 UTC text, keeping every fractional digit: `Date` holds only
 * milliseconds, and two events a few microseconds apart must stay two points in InfluxDB.
 * Invalid text stays as it is (and fails to parse later, with its own message).
 */
function utcText(text: string): string {
  const ms = parseWireTime(text)
  if (Number.isNaN(ms)) return text
  const frac = /T\d\d:\d\d:\d\d\.(\d{1,9})/.exec(text)?.[1]
  const whole = new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)
  return frac === undefined ? `${whole}Z` : `${whole}.${frac}Z`
}

function parseTime(value: unknown): Date {
  // UTC text keeps its exact form (and any microseconds) on the wire and in line protocol; text
  // with another offset, or none (taken as UTC), is normalised to UTC with all its digits.
  const d =
    typeof value === 'string'
      ? /Z$/i.test(value)
        ? new WireTime(value)
        : new WireTime(utcText(value))
      : new EventTime(typeof value === 'number' ? value : NaN)
  if (Number.isNaN(d.getTime())) throw new TypeError(`invalid event time: ${JSON.stringify(value)}`)
  return d
}

/**
 * Serialises an event to its wire JSON: its own enumerable fields, with `time` as ISO 8601 UTC
 * (`Date.prototype.toJSON`, or the exact received text for an unchanged decoded time).
 */
export function encodeEvent(event: Event): string {
  const t = event.time
  if (!(t instanceof Date) || Number.isNaN(t.getTime())) {
    throw new TypeError(`event time must be a valid Date, got ${String(t)}`)
  }
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
  const bad = shadowingKey(cls, data)
  if (bad !== undefined) throw new TypeError(`event payload has a field ${JSON.stringify(bad)} that would replace the prototype or a method`)
  const event = Object.create(cls.prototype) as E
  Object.assign(event, data)
  const text = (data as { time?: unknown }).time
  if (typeof text === 'string') {
    const t = new WireTime(text)
    if (Number.isNaN(t.getTime())) throw new TypeError(`invalid event time: ${JSON.stringify(text)}`)
    event.time = t
  } else {
    event.time = text === undefined ? new NowTime() : parseTime(text)
  }
  return event
}
