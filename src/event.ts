// Event: the base class of every message on the bus, and its JSON form on the wire.
//
// The wire JSON is what pydantic's `model_dump_json()` produces for the Python `Event`: the
// event's fields plus `time`, an ISO 8601 timestamp (pydantic writes microseconds and `Z`). A JS
// `Date` only holds milliseconds, so a decoded event's time remembers the exact text it arrived
// with and re-sends that text as long as it was not changed: Python -> TypeScript -> Python keeps
// microseconds.
import { Point } from './point'
import { NowTime, parseTime, WireTime } from './time'

export type { FieldType } from './point'

/** A class of events: anything constructed with `new` that produces an Event. */
// biome-ignore lint/suspicious/noExplicitAny: constructor parameters must be `any` for subclasses' own signatures to be assignable
export type EventClass<E extends Event = Event> = (abstract new (...args: any[]) => E) & {
  readonly eventName?: string
  readonly name: string
}

/** What `new E(data)` takes for an event defined with {@link Event.define}: its fields, and optionally `time`. */
export type EventData<D extends object> = D & { time?: Date | string | number }

/** The class {@link Event.define} returns: a constructor taking `D` whose events carry `D`'s fields. */
export type DefinedEvent<D extends object> = (new (data: EventData<D>) => Event & D) & Omit<typeof Event, 'prototype'>

/**
 * Classes not yet checked for field initializers that undo constructor data, and per event of
 * such a class, the data keys its constructor assigned (see `checkDataSurvived`).
 */
const checkedClasses = new WeakSet<object>()
const assignedKeys = new WeakMap<object, string[]>()

/**
 * A message on the bus that can also be stored as an InfluxDB point (see {@link Point}).
 *
 * Declare event types as subclasses. With typed data (checked by TypeScript at `new`):
 *
 * ```ts
 * class KernelStatusChanged extends Event.define<{ service: string; status: string }>() {
 *   override topic() { return this.service }
 * }
 * const ev = new KernelStatusChanged({ service: 'q1', status: 'busy' })
 * ```
 *
 * or with `declare` fields: `class K extends Event { declare service: string }`.
 */
export class Event extends Point {
  /**
   * Wire type name of this class. Defaults to the class name, as `Message.name()` does upstream.
   * Set it when a minifier renames classes: `static eventName = 'KernelStatusChanged'`.
   * It is not inherited: each subclass has its own name.
   */
  static eventName?: string

  /** When the event happened. Defaults to now; always sent as UTC. */
  declare time: Date

  /**
   * Copies `data` onto the new event. A `time` given as a string or number becomes a `Date`.
   *
   * TypeScript subclasses should declare their fields with `declare` (`declare service: string`)
   * so that class-field initialisation does not overwrite what the constructor assigned.
   */
  constructor(data?: object) {
    super()
    this.time = new NowTime()
    if (data !== undefined && data !== null) {
      const cls = this.constructor as EventClass
      const bad = shadowingKey(cls, data)
      if (bad !== undefined) {
        throw new TypeError(
          `${cls.name} data has a field ${JSON.stringify(bad)}, which would replace the event's prototype or one of its methods`,
        )
      }
      Object.assign(this, data)
      if (!(this.time instanceof Date)) this.time = parseTime(this.time as unknown)
      // Until the class has been checked once, remember what was assigned here: a subclass
      // field initializer runs after this constructor and may set it back to undefined.
      if (!checkedClasses.has(cls)) {
        const keys = Object.keys(data).filter((k) => (data as Record<string, unknown>)[k] !== undefined)
        if (keys.length > 0) assignedKeys.set(this, keys)
      }
    }
  }

  /**
   * A base class for events with typed data: `class K extends Event.define<{ service: string }>()`
   * gives `new K(data)` a checked parameter and `K` instances typed fields. It is `Event` itself
   * at run time (nothing is added between), so subclasses behave exactly like `extends Event`.
   * Do not also write the fields in the class body (`service!: string`): a field declared
   * without `declare` is reset to undefined after the constructor has assigned it.
   */
  static define<D extends object>(): DefinedEvent<D> {
    return Event as unknown as DefinedEvent<D>
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

}

/** Per class: the names data must not take (methods and accessors of its prototype chain). */
const reservedKeys = new WeakMap<object, Set<string>>()

/** Keys a payload of `cls` may not carry: `__proto__` and the names of its methods and accessors. @internal */
export function reservedKeysOf(cls: EventClass): ReadonlySet<string> {
  return reservedOf(cls)
}

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
  if (topic === null) return null
  if (topic === undefined) {
    throw new TypeError(
      `${eventTypeName(event.constructor as EventClass)}.topic() returned undefined; return a string, or null for an event without a topic`,
    )
  }
  if (typeof topic !== 'string') {
    throw new TypeError(
      `${eventTypeName(event.constructor as EventClass)}.topic() must return a string or null, got ${typeof topic}`,
    )
  }
  return topic
}

/**
 * Throws when data the constructor assigned was reset to undefined by a class field initializer
 * (`service!: string` compiles to one under `useDefineForClassFields`, the default for modern
 * targets), which would otherwise publish an event without its data. Checked on the first event
 * of each class that was built from data; later events of a checked class cost nothing.
 */
export function checkDataSurvived(event: Event): void {
  const keys = assignedKeys.get(event)
  if (keys === undefined) return
  const cls = event.constructor as EventClass
  for (const k of keys) {
    if ((event as unknown as Record<string, unknown>)[k] === undefined && Object.hasOwn(event, k)) {
      throw new TypeError(
        `${cls.name}.${k} was given to the constructor, then reset to undefined by the class field \`${k}\` ` +
          `(a field written \`${k}!: T\` or \`${k}: T\` in the class body runs after Event's constructor). ` +
          `Write \`declare ${k}: T\` instead, or type the data with Event.define<{ ${k}: T }>().`,
      )
    }
  }
  checkedClasses.add(cls)
  assignedKeys.delete(event)
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
