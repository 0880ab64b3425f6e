// Events as InfluxDB points: exact line protocol, as upstream stores its `Point`s.
//
//   measurement[,tag=value...] field=value[,field=value...] timestamp_ns
//
// Escaping follows the line protocol reference: measurement: `,` and space; tag keys, tag values
// and field keys: `,`, `=` and space; string field values are double-quoted with `"` and `\`
// escaped. Line protocol cannot represent a newline in a name or tag, nor a backslash at the end
// of one or before an escaped character (InfluxDB 1.x reads `\\` as two backslashes there), so
// those are rejected with an error naming the field instead of being stored wrongly.
import type { FieldType, Point, PointClass } from './point'

interface Schema {
  /** The escaped measurement. */
  measurement: string
  tags: ReadonlySet<string>
  integers: ReadonlySet<string>
  /** Declared field types (`static fields`), or null for the untyped rules. */
  types: ReadonlyMap<string, FieldType> | null
  /** Escaped keys, cached by field name. */
  keys: Map<string, string>
}

const schemas = new WeakMap<object, Schema>()
/** Which class owns each measurement: measurements are unique per class. */
const owners = new Map<string, object>()

function own<T>(cls: object, key: string): T | undefined {
  return  Object.hasOwn(cls, key) ? ((cls as Record<string, unknown>)[key] as T) : undefined
}

/** The storage schema of an event class, checked once. */
export function schemaOf(cls: PointClass): Schema {
  let s = schemas.get(cls)
  if (s !== undefined) return s
  const measurement = own<string>(cls, 'measurement')
  if (typeof measurement !== 'string' || measurement.length === 0) {
    throw new TypeError(`${cls.name} has no static measurement; set \`static measurement = '...'\` to store it`)
  }
  // A line starting with '#' is a comment: InfluxDB answers 204 and stores nothing.
  if (measurement.startsWith('#')) {
    throw new TypeError(`measurement ${JSON.stringify(measurement)} of ${cls.name} starts with "#", which makes the line a comment that InfluxDB silently ignores`)
  }
  const owner = owners.get(measurement)
  if (owner !== undefined && owner !== cls) {
    throw new TypeError(`measurement ${JSON.stringify(measurement)} of ${cls.name} is already used by ${(owner as PointClass).name}; measurements are unique per class`)
  }
  const list = (name: string): Set<string> => {
    const v = own<unknown>(cls, name) ?? (cls as unknown as Record<string, unknown>)[name] ?? []
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new TypeError(`${cls.name}.${name} must be an array of field names`)
    return new Set(v as string[])
  }
  const tags = list('tags')
  const integers = list('integerFields')
  for (const t of tags) if (integers.has(t)) throw new TypeError(`${cls.name}: ${JSON.stringify(t)} cannot be both a tag and an integer field`)
  const declared = own<unknown>(cls, 'fields') ?? (cls as unknown as Record<string, unknown>).fields
  let types: Map<string, FieldType> | null = null
  if (declared !== undefined) {
    if (declared === null || typeof declared !== 'object' || Array.isArray(declared)) throw new TypeError(`${cls.name}.fields must map field names to 'float', 'int', 'bool' or 'string'`)
    types = new Map()
    for (const [name, type] of Object.entries(declared)) {
      if (type !== 'float' && type !== 'int' && type !== 'bool' && type !== 'string') {
        throw new TypeError(`${cls.name}.fields.${name} must be 'float', 'int', 'bool' or 'string', got ${JSON.stringify(type)}`)
      }
      types.set(name, type)
    }
  }
  s = { measurement: escapeName(measurement, 'measurement', /[, ]/g), tags, integers, types, keys: new Map() }
  owners.set(measurement, cls)
  schemas.set(cls, s)
  return s
}

/** What the native path needs of a class's schema: its statics, checked, unescaped. @internal */
export function storageSchemaOf(cls: PointClass): { measurement: string; tags: string[]; integerFields: string[]; fields: Record<string, FieldType> | null } {
  const s = schemaOf(cls)
  const measurement = own<string>(cls, 'measurement') as string
  return {
    measurement,
    tags: [...s.tags],
    integerFields: [...s.integers],
    fields: s.types === null ? null : Object.fromEntries(s.types),
  }
}

function checkName(text: string, what: string): void {
  if (/[\n\r]/.test(text)) throw new TypeError(`${what} ${JSON.stringify(text)} contains a line break, which line protocol cannot carry`)
  if (/\\$|\\[,= ]/.test(text)) {
    throw new TypeError(`${what} ${JSON.stringify(text)} has a backslash at its end or before ",", "=" or a space, which line protocol cannot carry`)
  }
}

function escapeName(text: string, what: string, special: RegExp): string {
  checkName(text, what)
  return text.replace(special, (c) => '\\' + c)
}

const KEY_SPECIAL = /[,= ]/g

function key(schema: Schema, name: string): string {
  let k = schema.keys.get(name)
  if (k === undefined) {
    if (name.length === 0) throw new TypeError('field names must not be empty')
    k = escapeName(name, 'field name', KEY_SPECIAL)
    schema.keys.set(name, k)
  }
  return k
}

/** A string field value: quoted, with `"` and `\` escaped. */
export function quoteString(s: string): string {
  return '"' + s.replace(/["\\]/g, (c) => '\\' + c) + '"'
}

/** Nanoseconds since the epoch, as decimal text, keeping microseconds read from the wire. */
export function nanosOf(t: Date): string {
  const ms = t.getTime()
  if (Number.isNaN(ms)) throw new TypeError('event time is an invalid Date')
  const finer = (t as unknown as { subMillisecondNanos?: () => number }).subMillisecondNanos
  const extra = typeof finer === 'function' ? finer.call(t) : 0
  // ms * 1e6 exceeds 2^53, so the digits are joined as text (BigInt costs ~10x more here).
  if (ms >= 0) return ms === 0 ? String(extra) : String(ms) + String(1_000_000 + extra).slice(1)
  return (BigInt(ms) * 1_000_000n + BigInt(extra)).toString()
}

function fieldValue(schema: Schema, path: string, v: unknown): string {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`field ${JSON.stringify(path)} is ${v}, which InfluxDB cannot store`)
      if (schema.integers.has(path)) {
        if (!Number.isSafeInteger(v)) throw new TypeError(`integer field ${JSON.stringify(path)} is ${v}, not a safe integer`)
        return `${v}i`
      }
      return String(v)
    case 'bigint':
      if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new TypeError(`integer field ${JSON.stringify(path)} does not fit in 64 bits`)
      return `${v}i`
    case 'boolean':
      return v ? 'true' : 'false'
    case 'string':
      return quoteString(v)
    default:
      throw new TypeError(`field ${JSON.stringify(path)} has a value of type ${typeof v}, which InfluxDB cannot store`)
  }
}

/** Python's `repr` of a float, which is how upstream writes a float tag (`2.0`, `1e-05`). */
export function pythonFloat(v: number): string {
  if (Number.isNaN(v)) return 'nan'
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf'
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1)
  const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)))
  if (exp < -4 || exp >= 16) {
    // Shortest round-trip digits, in Python's exponent form: 1e-05, 1.5e+16.
    const [mant, e] = v.toExponential().split('e')
    const n = Number(e)
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`
  }
  return String(v)
}

/** pydantic's JSON for non-finite floats. */
const NON_FINITE_TEXT = new Set(['NaN', 'Infinity', '-Infinity'])

/** A tag value as upstream prints it, given its declared type. */
function typedTag(name: string, type: FieldType | undefined, v: unknown): string {
  if (typeof v === 'object') throw new TypeError(`tag ${JSON.stringify(name)} must be a string, number or boolean, got an ${Array.isArray(v) ? 'array' : 'object'}`)
  if (type === 'bool' && typeof v === 'boolean') return v ? 'True' : 'False'
  if (type === 'float' && typeof v === 'number') return pythonFloat(v)
  return String(v)
}

/** A declared field's value, or undefined when upstream leaves it out (a non-finite float). */
function typedField(name: string, type: FieldType, v: unknown): string | undefined {
  const bad = (what: string) => new TypeError(`field ${JSON.stringify(name)} is declared ${type} but holds ${what}`)
  switch (type) {
    case 'float':
      if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined
      if (typeof v === 'string' && NON_FINITE_TEXT.has(v)) return undefined
      throw bad(typeof v === 'string' ? JSON.stringify(v) : typeof v)
    case 'int':
      if (typeof v === 'bigint' && v >= -(2n ** 63n) && v < 2n ** 63n) return `${v}i`
      if (typeof v === 'number' && Number.isSafeInteger(v)) return `${v}i`
      throw bad(typeof v === 'number' ? String(v) : typeof v)
    case 'bool':
      if (typeof v === 'boolean') return v ? 'true' : 'false'
      throw bad(typeof v)
    case 'string':
      if (typeof v === 'string') return quoteString(v)
      throw bad(typeof v)
  }
}

/** Fields and tags of an event whose class declares `static fields`: upstream's rules. */
function addTypedFields(schema: Schema, types: ReadonlyMap<string, FieldType>, obj: Record<string, unknown>, out: string[], tags: string[]): void {
  for (const name of Object.keys(obj)) {
    const v = obj[name]
    if (v === null || v === undefined || name === 'time') continue
    if (schema.tags.has(name)) {
      const text = typedTag(name, types.get(name), v)
      if (text.length > 0) tags.push(`${key(schema, name)}=${escapeName(text, `tag ${JSON.stringify(name)} value`, KEY_SPECIAL)}`)
      continue
    }
    const type = types.get(name)
    if (type === undefined) throw new TypeError(`field ${JSON.stringify(name)} is not declared in the class's static fields`)
    const value = typedField(name, type, v)
    if (value !== undefined) out.push(`${key(schema, name)}=${value}`)
  }
}

/**
 * Adds the fields of `obj` under `prefix`. Nested plain objects are flattened with `.` (a field
 * `part: { kelvin: 1 }` becomes `part.kelvin=1`); arrays are rejected, since a point has no lists.
 */
function addFields(schema: Schema, obj: Record<string, unknown>, prefix: string, out: string[], tags: string[], depth: number): void {
  if (depth > 32) throw new TypeError(`fields nest deeper than 32 levels at ${JSON.stringify(prefix)}`)
  for (const name of Object.keys(obj)) {
    const v = obj[name]
    if (v === null || v === undefined) continue
    const path = prefix + name
    if (depth === 0 && name === 'time') continue
    if (depth === 0 && schema.tags.has(name)) {
      if (typeof v === 'object') throw new TypeError(`tag ${JSON.stringify(name)} must be a string, number or boolean, got an ${Array.isArray(v) ? 'array' : 'object'}`)
      const text = String(v)
      if (text.length > 0) tags.push(`${key(schema, name)}=${escapeName(text, `tag ${JSON.stringify(name)} value`, KEY_SPECIAL)}`)
      continue
    }
    if (Array.isArray(v)) throw new TypeError(`field ${JSON.stringify(path)} is an array; store its items as separate fields or points`)
    if (typeof v === 'object' && !(v instanceof Date)) {
      // Only plain objects are flattened: a Map, Set or class instance has no enumerable
      // fields to store and would vanish without a word.
      const proto = Object.getPrototypeOf(v) as unknown
      if (proto !== Object.prototype && proto !== null) {
        const kind = (v as object).constructor?.name ?? 'object'
        throw new TypeError(`field ${JSON.stringify(path)} is a ${kind}, which InfluxDB cannot store; convert it to a plain object or separate fields`)
      }
      addFields(schema, v as Record<string, unknown>, path + '.', out, tags, depth + 1)
      continue
    }
    out.push(`${key(schema, path)}=${fieldValue(schema, path, v instanceof Date ? v.toJSON() : v)}`)
  }
}

/** The event as one line of line protocol (no trailing newline). */
export function lineProtocolOf(event: Point): string {
  const cls = event.constructor as PointClass
  const schema = schemaOf(cls)
  const fields: string[] = []
  const tags: string[] = []
  const data = event as unknown as Record<string, unknown>
  if (schema.types !== null) addTypedFields(schema, schema.types, data, fields, tags)
  else addFields(schema, data, '', fields, tags, 0)
  if (fields.length === 0) throw new TypeError(`${cls.name} event has no fields to store (InfluxDB points need at least one)`)
  // Tags sorted by key, as InfluxDB recommends for write performance.
  tags.sort()
  const tagPart = tags.length > 0 ? ',' + tags.join(',') : ''
  return `${schema.measurement}${tagPart} ${fields.join(',')} ${nanosOf(event.time)}`
}
