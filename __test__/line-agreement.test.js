// The native ingestion path and the JavaScript path write the same bytes: every payload below
// (edge cases, then thousands of random ones) is turned into line protocol by both, from the same
// wire JSON, and the lines (or the fact that both refuse it) must agree exactly.
'use strict'
// A zone away from UTC, so that a time read as local time rather than UTC shows as a difference.
process.env.TZ = 'Europe/Amsterdam'
const test = require('ava')
const { j } = require('./helpers')
const { native } = require('../dist/load-addon')
const { decodeEvent } = require('../dist/event')
const { nativeSchemaJson } = require('../dist/native-sink')

class Plain extends j.Event {
  static measurement = 'plain m,x'
  static tags = ['site', 'qpu', 'n']
  static integerFields = ['count', 'deep.count']
  topic() {
    return 'x'
  }
}

class Typed extends j.Event {
  static measurement = 'typed'
  static tags = ['site', 'on', 'level']
  static fields = { kelvin: 'float', count: 'int', ok: 'bool', note: 'string', on: 'bool', level: 'float' }
}

/**
 * Both paths' answer for one payload: the line as the bytes each sends (the JavaScript engine
 * encodes its string as UTF-8, which turns a lone surrogate into U+FFFD), or 'refused'.
 */
function both(cls, json) {
  let js
  let nat
  try {
    js = Buffer.from(decodeEvent(cls, json).toLineProtocol(), 'utf8').toString('utf8')
  } catch {
    js = 'refused'
  }
  try {
    nat = native.lineOf(nativeSchemaJson(cls), json)
  } catch {
    nat = 'refused'
  }
  return { js, nat }
}

const T = '"time":"2026-11-30T10:51:24.123456Z"'
const EDGE = [
  // escaping and what line protocol cannot carry
  `{${T},"site":"lab a,b=c","x y":"q\\"uote\\\\ back","n":1}`,
  `{${T},"site":"ends\\\\","v":1}`,
  `{${T},"site":"a\\\\,b","v":1}`,
  `{${T},"site":"line\\nbreak","v":1}`,
  `{${T},"site":"","v":1}`,
  `{${T},"":1}`,
  `{${T},"k=1":true,"k,2":false,"k 3":"s"}`,
  `{${T},"uni":"\u00e9\u{1F600}\\ud83d\\ude00","site":"\u{1F600}","qpu":"\uffff"}`,
  // numbers, as JSON.parse and String() see them
  `{${T},"a":1e21,"b":1e-7,"c":0.30000000000000004,"d":-0,"e":9007199254740993,"f":1.7976931348623157e308,"g":5e-324,"h":123456789012345678901234567890}`,
  `{${T},"a":1e400}`,
  `{${T},"n":1e400,"v":1}`,
  `{${T},"count":-1e400}`,
  `{${T},"lone":"\\ud800x","site":"a\\udc00","v":1}`,
  `{${T},"esc":"\\b\\f\\n\\r\\t\\/\\u0041\\u00e9","v":1}`,
  ' { "v" : 1 , "time" : "2026-11-30T10:51:24Z" } ',
  '{"v":01}',
  '{"v":1.}',
  '{"v":.5}',
  '{"v":+1}',
  '{"v":1,}',
  '{"v":"tab\there"}',
  '{"v":1}\u0000',
  `{${T},"deep":${'{"a":'.repeat(200)}1${'}'.repeat(200)}}`,
  `{${T},"count":1.5}`,
  `{${T},"count":9007199254740992}`,
  `{${T},"count":9007199254740991,"deep":{"count":-3}}`,
  `{${T},"count":-0.0,"x":1.0}`,
  // shape: nesting, arrays, duplicates, index-like keys, reserved keys
  `{${T},"deep":{"a":{"b":{"c":1}}},"z":null}`,
  `{${T},"arr":[1,2]}`,
  `{${T},"b":1,"a":2,"b":3}`,
  `{"v":1,"time":"2020-01-01T00:00:00Z",${T}}`,
  `{${T},"count":1.5,"topic":1}`,
  `{${T},"v":"esc\\u00e9aped","site":"a\\/b"}`,
  `{${T},"b":1,"a":2,"b":3,"10":4,"2":5,"01":6,"4294967295":7,"4294967294":8}`,
  `{${T},"topic":1}`,
  `{${T},"constructor":1}`,
  `{${T},"__proto__":{"x":1},"v":1}`,
  `{${T},"toLineProtocol":1}`,
  `{${T},"site":{"a":1},"v":1}`,
  `{${T},"site":[1],"v":1}`,
  `{${T},"site":true,"qpu":2.5,"n":100,"v":1}`,
  `{${T}}`,
  `{${T},"only":null}`,
  '[1,2]',
  '"text"',
  '{"v":1,',
  `{${T},"v":1} trailing`,
  // times
  '{"time":"2026-11-30T10:51:24Z","v":1}',
  '{"time":"2026-11-30T10:51:24.1Z","v":1}',
  '{"time":"2026-11-30T10:51:24.123456789Z","v":1}',
  '{"time":"2026-11-30T10:51:24.1234567891234Z","v":1}',
  '{"time":"2026-11-30T10:51:24.123456+02:00","v":1}',
  '{"time":"2026-11-30T10:51:24.123456-0530","v":1}',
  '{"time":"2026-11-30T10:51:24.123456","v":1}',
  '{"time":"2026-11-30T10:51","v":1}',
  '{"time":"2026-11-30","v":1}',
  '{"time":"2026-11-30 10:00:00.123456","v":1}',
  '{"time":"2026-11-30t10:00:00.5","v":1}',
  '{"time":"+002026-11-30T10:00:00","v":1}',
  '{"time":"2026-11-30T10:00:00.123xyzZ","v":1}',
  '{"time":"2026-11-30T10:00:00.1234x6Z","v":1}',
  '{"time":"2026-11-30T24:00:00.500Z","v":1}',
  '{"time":"2026-11-30T24:00:00.000Z","v":1}',
  '{"time":"1969-12-31T23:59:59.999999Z","v":1}',
  '{"time":"1900-01-01T00:00:00.000001Z","v":1}',
  '{"time":"+012026-01-01T00:00:00Z","v":1}',
  '{"time":"2026-02-30T00:00:00Z","v":1}',
  '{"time":"2026-11-30T24:00:00Z","v":1}',
  '{"time":"2026-13-01T00:00:00Z","v":1}',
  '{"time":"yesterday","v":1}',
  '{"time":1796035884123,"v":1}',
  '{"time":-1.5,"v":1}',
  '{"time":9e15,"v":1}',
  '{"time":null,"v":1}',
  '{"time":true,"v":1}',
]

const TYPED = [
  `{${T},"kelvin":0.1,"count":3,"ok":true,"note":"n\\"x","site":"s","on":true,"level":2}`,
  `{${T},"kelvin":"NaN","count":1}`,
  `{${T},"kelvin":"Infinity","count":1}`,
  `{${T},"kelvin":"-Infinity","count":1,"ok":false}`,
  `{${T},"kelvin":"nan","count":1}`,
  `{${T},"kelvin":1,"count":1.0}`,
  `{${T},"kelvin":1,"count":1.5}`,
  `{${T},"kelvin":1,"count":"1"}`,
  `{${T},"kelvin":true}`,
  `{${T},"kelvin":{"a":1}}`,
  `{${T},"ok":1}`,
  `{${T},"note":1}`,
  `{${T},"undeclared":1}`,
  `{${T},"level":1e-5,"kelvin":1}`,
  `{${T},"level":1.5e16,"kelvin":1}`,
  `{${T},"level":1e16,"kelvin":1}`,
  `{${T},"level":-0.0,"kelvin":1}`,
  `{${T},"level":123.456,"kelvin":1}`,
  `{${T},"level":"text","kelvin":1}`,
  `{${T},"on":false,"kelvin":1}`,
  `{${T},"on":"yes","kelvin":1}`,
  `{${T},"site":5,"kelvin":1}`,
  `{${T},"kelvin":"NaN"}`,
  `{${T},"kelvin":1e400,"count":1}`,
  `{${T},"level":1e400,"kelvin":1}`,
  `{${T},"level":-1e400,"kelvin":1}`,
  `{${T},"count":1e400}`,
]

test('edge cases: escaping, numbers, shapes, reserved keys and times agree byte for byte', (t) => {
  let refused = 0
  for (const [cls, list] of [
    [Plain, EDGE],
    [Typed, TYPED],
  ]) {
    for (const json of list) {
      const { js, nat } = both(cls, json)
      t.is(nat, js, `${cls.name} ${json}`)
      if (js === 'refused') refused++
    }
  }
  // Both accept most and refuse a good share: the comparison covers both outcomes.
  t.true(refused > 15 && refused < EDGE.length + TYPED.length - 20, `refused ${refused}`)
})

/** A small deterministic PRNG, so a failure names a reproducible case. */
function rng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x ^= x + Math.imul(x ^ (x >>> 7), 61 | x)
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

test('20,000 random payloads agree byte for byte', (t) => {
  const r = rng(20261130)
  const pick = (xs) => xs[Math.floor(r() * xs.length)]
  const chars = ['a', 'b', ' ', ',', '=', '"', '\\', '\n', 'é', '😀', '\uffff', '0', '.', '#']
  const text = () => Array.from({ length: Math.floor(r() * 6) }, () => pick(chars)).join('')
  // Names rarely hold what line protocol refuses, so most points get through to be compared.
  const name = () => Array.from({ length: 1 + Math.floor(r() * 5) }, () => pick(r() < 0.05 ? chars : ['a', 'b', ' ', ',', '=', 'é', '😀', '.'])).join('')
  // Number texts as other writers send them (Python's json, hand-written JSON): exponents, trailing
  // zeros, leading zeros in fractions, negative zero, long digit runs. They are put into the JSON
  // text in place of a marker string, since JSON.stringify would normalise them.
  const raws = []
  const digitRun = (n) => Array.from({ length: n }, () => Math.floor(r() * 10)).join('')
  const rawNumber = () => {
    const int = pick(['0', String(1 + Math.floor(r() * 9)) + digitRun(Math.floor(r() * 23))])
    const frac = r() < 0.6 ? `.${pick(['', '0', '00000', '000000'])}${digitRun(1 + Math.floor(r() * 18))}` : ''
    const exp = r() < 0.2 ? `${pick(['e', 'E'])}${pick(['', '+', '-'])}${Math.floor(r() * 30)}` : ''
    raws.push(`${r() < 0.3 ? '-' : ''}${int}${frac}${exp}`)
    return `\u0000RAW${raws.length - 1}`
  }
  const withRaws = (json) => json.replace(/"\\u0000RAW(\d+)"/g, (_, i) => raws[Number(i)])
  const number = () =>
    pick([
      () => rawNumber(),() => r() * 10 ** Math.floor(r() * 60 - 30), () => Math.floor(r() * 2 ** 60) * pick([1, -1]), () => Math.floor(r() * 1000), () => 0, () => -r(), () => Number((r() * 100).toFixed(3))])()
  const times = [
    () => new Date(Math.floor(r() * 4e12)).toISOString(),
    () => new Date(Math.floor(r() * 4e12)).toISOString().replace('Z', String(Math.floor(r() * 1000)).padStart(3, '0') + 'Z'),
    () => new Date(Math.floor(r() * 4e12)).toISOString().replace('.', '.' + String(Math.floor(r() * 1e6))).replace('Z', pick(['Z', '+01:00', '-08:30', ''])),
    () => Math.floor(r() * 4e12) - 1e12,
  ]
  const value = (depth) =>
    pick([
      () => number(),
      () => text(),
      () => r() < 0.5,
      () => null,
      () => (depth < 3 ? obj(depth + 1, false) : 1),
      () => (r() < 0.05 ? [1] : number()),
    ])()
  function obj(depth, top) {
    const o = {}
    const n = Math.floor(r() * 5) + (top ? 1 : 0)
    for (let i = 0; i < n; i++) o[pick(['site', 'qpu', 'n', 'count', 'v', 'w', name(), 'deep', '3', 'time'])] = value(depth)
    if (top) o.time = pick(times)()
    return o
  }
  const typedValue = (k) =>
    ({
      kelvin: () => (r() < 0.9 ? number() : pick(['NaN', 'Infinity', text()])),
      count: () => (r() < 0.9 ? Math.floor(r() * 1e6) : pick([number(), '1', rawNumber()])),
      ok: () => (r() < 0.95 ? r() < 0.5 : 1),
      note: () => (r() < 0.9 ? text() : 2),
      on: () => (r() < 0.95 ? r() < 0.5 : 'x'),
      level: () => pick([number(), r() * 1e17, 1e-6]),
      site: () => pick([name(), number()]),
    })[k]()
  let compared = 0
  let refused = 0
  for (let i = 0; i < 20_000; i++) {
    let cls = Plain
    let payload
    if (r() < 0.3) {
      cls = Typed
      payload = { time: pick(times)() }
      for (const k of ['kelvin', 'count', 'ok', 'note', 'on', 'level', 'site']) if (r() < 0.6) payload[k] = typedValue(k)
    } else {
      payload = obj(0, true)
    }
    let json = withRaws(JSON.stringify(payload))
    // Now and then a key twice: JSON.parse keeps its first position and its last value.
    const keys = Object.keys(payload)
    if (keys.length > 0 && r() < 0.1) json = `{${JSON.stringify(pick(keys))}:${pick(['1', '"x"', 'null', 'true', '2.50'])},${json.slice(1)}`
    const { js, nat } = both(cls, json)
    if (nat !== js) {
      t.is(nat, js, `case ${i}: ${cls.name} ${json}`)
      return
    }
    compared++
    if (js === 'refused') refused++
  }
  t.is(compared, 20_000)
  t.log(`${compared} compared, ${refused} refused by both, ${raws.length} numbers written by hand`)
  t.true(raws.length > 3000, 'hand-written number texts are among them')
  t.true(refused < compared / 2, 'most random payloads are storable, so lines are compared, not only refusals')
})
