// Tasks: requests a Juice service answers, as upstream's `Task` (pydantic) classes. A task class
// names its wire type (the bare class name, as upstream), says whether it may run in parallel with
// others on its target, and carries its fields as the payload.
import { pythonFloat } from '../line-protocol'

/** A class of tasks. */
export type TaskClass<T extends Task = Task> = (abstract new (...args: never[]) => T) & {
  readonly name: string
  taskName?: string
  parallel?: boolean
  showInDashboard?: boolean
}

/** The class `Task.define<D>()` returns: its constructor takes `D`, and its instances have `D`'s fields. */
export type DefinedTask<D extends object> = (new (data: D) => Task & D) & Omit<typeof Task, 'prototype'>

export class Task {
  /** Wire type name; defaults to the class name, as upstream's `Task.type()`. Not inherited. */
  static taskName?: string
  /** May run while other tasks of its target run (upstream's `parallel` ClassVar). Default false. */
  static parallel?: boolean
  /** Shown in upstream's dashboard (`show_in_dashboard`). Default true. */
  static showInDashboard?: boolean

  /**
   * A base class whose constructor data and fields are typed as `D`:
   * `class Calibrate extends Task.define<{ qubit: number }>() {}` makes `new Calibrate({ qubit: 3 })`
   * compile and `new Calibrate({ qbit: 3 })` not. It is `Task` itself at run time.
   */
  static define<D extends object>(): DefinedTask<D> {
    return Task as unknown as DefinedTask<D>
  }

  constructor(data?: object) {
    if (data !== undefined) {
      if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new TypeError('task data must be an object')
      Object.assign(this, data)
    }
  }
}

/** The wire `type` of a task class. */
export function taskTypeName(cls: TaskClass): string {
  const own = Object.hasOwn(cls, 'taskName') ? cls.taskName : undefined
  const name = own ?? cls.name
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('a task class needs a name (or a static taskName)')
  return name
}

/** A value as Python's `repr` prints it, for upstream's display names. */
function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 53 ? String(v) : pythonFloat(v)
  if (typeof v === 'string') {
    const quote = v.includes("'") && !v.includes('"') ? '"' : "'"
    const body = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    return quote + (quote === "'" ? body.replace(/'/g, "\\'") : body) + quote
  }
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`
  return `{${Object.entries(v as object).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`
}

/** Upstream's display name: `Type: a=1, b='x'`, or `Type` for a task without fields. */
export function displayName(type: string, payload: Record<string, unknown>): string {
  const fields = Object.entries(payload).map(([k, v]) => `${k}=${pyRepr(v)}`)
  return fields.length === 0 ? type : `${type}: ${fields.join(', ')}`
}

/** The task's own fields, as the payload. */
export function payloadOf(task: Task): Record<string, unknown> {
  return JSON.parse(JSON.stringify(task)) as Record<string, unknown>
}
