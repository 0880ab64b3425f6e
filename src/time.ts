// Event times: what `time` holds, how it is formatted and parsed, and how the exact wire text
// (pydantic's microseconds) survives a relay. A JS `Date` holds milliseconds; the subclasses
// here keep the finer digits of the text they were read from, and stamp new events uniquely.
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
export class NowTime extends EventTime {
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
      // Every fraction digit must be one (not only the three that make milliseconds), and 24:00
      // allows no fraction: such text goes to Date.parse, which refuses it.
      let clean = !Number.isNaN(frac) && !(text.charCodeAt(11) === 50 /* 2 */ && text.charCodeAt(12) === 52) /* 4 */
      for (let i = 23; clean && i < n - 1; i++) clean = !Number.isNaN(digitAt(text, i))
      if (clean) return parsedPrefixMs + frac
    }
  }
  // A naive timestamp (no offset) would be read as local time by Date.parse; Juice stores UTC.
  return Date.parse(NAIVE_ISO.test(text) ? text + 'Z' : text)
}

/** ISO date and time without a zone, in every form Date.parse accepts (`T`, `t` or a space). */
const NAIVE_ISO = /^([+-]\d{6}|\d{4})-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?$/

/**
 * A `time` decoded from the wire. It remembers the exact text it arrived with and serialises
 * back to that text while its value is unchanged, so microseconds survive a relay.
 */
export class WireTime extends EventTime {
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

/** An event's `time` from its wire value: text keeps its exact form; a number is epoch ms. */
export function parseTime(value: unknown): Date {
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
