// Point: the database side of an event, as upstream's `Point`: which measurement a class is
// stored as, which fields are tags, how each field is typed, and the line protocol that follows.
// Event builds on it (upstream's `Event(Message, Point)`); nothing here knows about the bus.
import { lineProtocolOf } from './line-protocol'

/** How a field is stored in InfluxDB (see {@link Point.fields}). */
export type FieldType = 'float' | 'int' | 'bool' | 'string'

/** A class of points (every event class is one). */
export type PointClass = (abstract new (...args: never[]) => Point) & { readonly name: string }

export class Point {
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

  /** When the point was measured; written as its nanosecond timestamp. */
  declare time: Date

  /** This point as one line of InfluxDB line protocol (nanosecond timestamp, no newline). */
  toLineProtocol(): string {
    return lineProtocolOf(this)
  }
}

/**
 * Marks the default toLineProtocol(), so a class that overrides it is recognised even when it
 * was built on another copy of this package (a registered symbol is shared between copies).
 */
const DEFAULT_LINE = Symbol.for('juice-messaging.defaultToLineProtocol')
Object.defineProperty(Point.prototype.toLineProtocol, DEFAULT_LINE, { value: true })

/** Whether `cls` writes its points with the default toLineProtocol(). @internal */
export function usesDefaultLineProtocol(cls: PointClass): boolean {
  const f = (cls.prototype as { toLineProtocol?: unknown }).toLineProtocol as Record<symbol, unknown> | undefined
  return typeof f === 'function' && f[DEFAULT_LINE] === true
}
