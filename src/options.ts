// Range checks for numeric and boolean options, so a bad value fails at construction with a
// TypeError that names the option, instead of wrapping or truncating on its way into Rust
// (`maxQueue: -1` would become 4294967295, `NaN` would become 0).

/** Largest value a 32-bit signed libzmq option (HWMs) takes. */
export const I32_MAX = 2 ** 31 - 1
/** Largest value a u32 option takes. */
export const U32_MAX = 2 ** 32 - 1
/** Longest duration option, in seconds: libzmq and timers take milliseconds as an i32. */
export const MAX_SECONDS = Math.floor(I32_MAX / 1000)

/**
 * Checks that `value`, if given, is an integer from `min` to `max`; returns it (or undefined).
 * `owner` names the class or function whose option it is.
 */
export function intOption(
  owner: string,
  name: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${owner} option ${name} must be an integer from ${min} to ${max}, got ${describe(value)}`)
  }
  return value
}

/** As {@link intOption}, also accepting -1 ("no limit"). */
export function limitOption(owner: string, name: string, value: unknown): number | undefined {
  if (value === -1) return -1
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > Number.MAX_SAFE_INTEGER) {
    throw new TypeError(`${owner} option ${name} must be a positive integer number of bytes, or -1 for no limit, got ${describe(value)}`)
  }
  return value
}

/**
 * A duration in seconds, from 0 (or, with `positive`, above 0) to `max` seconds; returns
 * milliseconds (or undefined).
 */
export function secondsOption(owner: string, name: string, value: unknown, max = MAX_SECONDS, positive = false): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !((positive ? value > 0 : value >= 0) && value <= max)) {
    const range = positive ? `above 0, at most ${max}` : `from 0 to ${max}`
    throw new TypeError(`${owner} option ${name} must be a number of seconds ${range}, got ${describe(value)}`)
  }
  return Math.round(value * 1000)
}

export function stringOption(owner: string, name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new TypeError(`${owner} option ${name} must be a string, got ${describe(value)}`)
  return value
}

export function boolOption(owner: string, name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw new TypeError(`${owner} option ${name} must be true or false, got ${describe(value)}`)
  return value
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v)
  if (typeof v === 'bigint') return `${v}n`
  return typeof v === 'object' && v !== null ? 'an object' : String(v)
}
