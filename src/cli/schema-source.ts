// Where `juice ingest` takes the storage schema from: the event classes themselves (a module that
// exports them), a JSON schema file, or, for classless use, flags naming one measurement's tags
// and field types.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Event, type EventClass, eventTypeName, type FieldType } from '../index'
import { CommandError, UsageError } from './args'

const FIELD_TYPES = ['float', 'int', 'bool', 'string']

/**
 * A real dynamic import: this file compiles to CommonJS, where TypeScript would turn `import()`
 * into `require()`, which cannot load an ES module.
 */
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<Record<string, unknown>>

/** Whether `v` is an event class that can be stored: a class with its own static measurement. */
function storable(v: unknown): v is EventClass {
  return typeof v === 'function' && Object.hasOwn(v, 'measurement') && typeof (v as { prototype?: { toLineProtocol?: unknown } }).prototype?.toLineProtocol === 'function'
}

/** The storable event classes a module exports (CommonJS or ES module), by wire type name. */
export async function classesFrom(file: string): Promise<Map<string, EventClass>> {
  const abs = path.resolve(file)
  let mod: Record<string, unknown>
  try {
    mod = await importModule(pathToFileURL(abs).href)
  } catch (e) {
    throw new CommandError(`--classes ${file}: cannot load it: ${(e as Error).message}`)
  }
  const out = new Map<string, EventClass>()
  const seen = new Set<unknown>()
  const visit = (v: unknown) => {
    if (seen.has(v)) return
    seen.add(v)
    if (storable(v)) out.set(eventTypeName(v), v)
  }
  for (const v of Object.values(mod)) visit(v)
  // A CommonJS module's exports also appear as `default`.
  if (mod.default !== null && typeof mod.default === 'object') for (const v of Object.values(mod.default)) visit(v)
  if (out.size === 0) throw new CommandError(`--classes ${file} exports no event class with a static measurement`)
  return out
}

interface SchemaEntry {
  measurement?: unknown
  tags?: unknown
  integerFields?: unknown
  fields?: unknown
}

/** Event classes made from a flat description: what a class's statics would say. */
export function classFor(type: string, s: { measurement: string; tags?: string[]; integerFields?: string[]; fields?: Record<string, FieldType> }): EventClass {
  const cls = class extends Event {
    static override eventName = type
    static override measurement = s.measurement
    static override tags = s.tags ?? []
    static override integerFields = s.integerFields ?? []
    static override fields = s.fields
  }
  // Named after its type, so that messages about it name it.
  Object.defineProperty(cls, 'name', { value: type })
  return cls
}

/**
 * Classes from a JSON schema file: `{ "Type": { "measurement": "m", "tags": ["a"],
 * "fields": { "kelvin": "float" } } }` (measurement defaults to the type name).
 */
export function classesFromSchemaFile(file: string): Map<string, EventClass> {
  let doc: unknown
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'))
  } catch (e) {
    throw new CommandError(`--schema ${file}: ${(e as Error).message}`)
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new CommandError(`--schema ${file} must hold an object keyed by event type`)
  const out = new Map<string, EventClass>()
  for (const [type, raw] of Object.entries(doc as Record<string, SchemaEntry>)) {
    const where = `--schema ${file}: ${type}`
    if (raw === null || typeof raw !== 'object') throw new CommandError(`${where} must be an object`)
    const strings = (v: unknown, name: string): string[] | undefined => {
      if (v === undefined) return undefined
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new CommandError(`${where}.${name} must be an array of field names`)
      return v as string[]
    }
    let fields: Record<string, FieldType> | undefined
    if (raw.fields !== undefined) {
      if (raw.fields === null || typeof raw.fields !== 'object' || Array.isArray(raw.fields)) throw new CommandError(`${where}.fields must map field names to types`)
      for (const [k, t] of Object.entries(raw.fields)) {
        if (!FIELD_TYPES.includes(t as string)) throw new CommandError(`${where}.fields.${k} must be float, int, bool or string, got ${JSON.stringify(t)}`)
      }
      fields = raw.fields as Record<string, FieldType>
    }
    if (raw.measurement !== undefined && (typeof raw.measurement !== 'string' || raw.measurement === '')) throw new CommandError(`${where}.measurement must be a non-empty string`)
    out.set(type, classFor(type, { measurement: (raw.measurement as string | undefined) ?? type, tags: strings(raw.tags, 'tags'), integerFields: strings(raw.integerFields, 'integerFields'), fields }))
  }
  if (out.size === 0) throw new CommandError(`--schema ${file} names no event type`)
  return out
}

/** `--fields k:float,n:int` as a field schema. */
export function fieldTypes(items: string[]): Record<string, FieldType> {
  const out: Record<string, FieldType> = {}
  for (const item of items) {
    const [name, type] = item.split(':')
    if (!name || !FIELD_TYPES.includes(type)) {
      throw new UsageError(`--fields: ${JSON.stringify(item)} is not NAME:TYPE with TYPE float, int, bool or string`)
    }
    out[name] = type as FieldType
  }
  return out
}
