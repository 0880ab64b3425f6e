// Event construction and its JSON wire form, end to end through the proxy.
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, rawPub, KernelStatusChanged, Telemetry } = require('./helpers')

test('the seed example: data is assigned, topic() comes from a field, time defaults to now', (t) => {
  const before = Date.now()
  const e = new KernelStatusChanged({ service: 'q1', status: 'idle' })
  t.is(e.service, 'q1')
  t.is(e.status, 'idle')
  t.is(e.topic(), 'q1')
  t.true(e.time instanceof Date)
  t.true(e.time.getTime() >= before && e.time.getTime() <= Date.now())
  t.is(new j.Event().topic(), null)
})

test('time is sent as ISO 8601 UTC, and a received time is re-sent verbatim with its microseconds', async (t) => {
  const e = new Telemetry({ time: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678)) })
  t.is(JSON.parse(JSON.stringify(e)).time, '2026-01-02T03:04:05.678Z')
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const raw = await rawPub(proxy.frontend, 'Telemetry.')
  await raw.send(['Telemetry.', '{"time":"2026-11-27T10:11:12.345678Z","v":1}'])
  await raw.send(['Telemetry.', '{"time":"2026-11-27T12:11:12.5+02:00","v":2}'])
  const a = await sub.get(5)
  const b = await sub.get(5)
  t.is(a.time.toISOString(), '2026-11-27T10:11:12.345Z')
  t.is(JSON.parse(JSON.stringify(a)).time, '2026-11-27T10:11:12.345678Z', 'microseconds survive a relay')
  t.is(b.time.toISOString(), '2026-11-27T10:11:12.500Z', 'offsets are converted to UTC')
  a.time = new Date(a.time.getTime() + 1)
  t.is(JSON.parse(JSON.stringify(a)).time, '2026-11-27T10:11:12.346Z', 'a changed time is re-encoded')
  // Every shape of ISO 8601 pydantic or another peer may send decodes to the same instant as
  // Date.parse, and re-encodes to its exact text.
  const shapes = [
    '2026-11-27T10:11:12Z',
    '2026-11-27T10:11:12.5Z',
    '2026-11-27T10:11:12.05Z',
    '2026-11-27T10:11:12.123Z',
    '2026-11-27T10:11:12.123456789Z',
    '2026-11-27T10:11:13.999999Z',
    '1969-12-31T23:59:59.999Z',
    '2026-11-27T10:11:12.123+05:30',
    '2026-11-27T10:11:12',
  ]
  for (const text of shapes) await raw.send(['Telemetry.', JSON.stringify({ time: text })])
  for (const text of shapes) {
    const ev = await sub.get(5)
    const want = Date.parse(/Z|[+-]\d\d:\d\d$/.test(text) ? text : text + 'Z')
    t.is(ev.time.getTime(), want, text)
    t.is(JSON.parse(JSON.stringify(ev)).time, text)
  }
  raw.close()
  await sub.close()
  await proxy.close()
})

test('nested objects, numbers, booleans, null, unicode and a 1 MiB payload survive the trip', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  const data = {
    path: 'qpu0.fridge',
    pos: { x: 1, y: { z: [1, 2.5, -3e-9] } },
    f: 0.1 + 0.2,
    n: Number.MAX_SAFE_INTEGER,
    ok: true,
    none: null,
    text: 'µK ✓ 量子 🧊',
    big: 'x'.repeat(1 << 20),
  }
  await pub.publish(new Telemetry(data))
  const got = await sub.get(5)
  for (const [k, v] of Object.entries(data)) t.deepEqual(got[k], v, k)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('default times are unique within a process: a burst gets successive microseconds', (t) => {
  class Burst extends j.Event {
    static measurement = 'burst'
  }
  // The clock is read first: 5,000 events, BigInt sorts and JSON round trips take a while on a busy machine.
  const before = Date.now()
  const events = Array.from({ length: 5000 }, (_, i) => new Burst({ i }))
  const stamps = events.map((e) => e.toLineProtocol().split(' ').pop())
  t.is(new Set(stamps).size, 5000, 'no two events share a timestamp')
  const sorted = [...stamps].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
  t.deepEqual(stamps, sorted, 'and they increase')
  const wire = events.map((e) => JSON.parse(JSON.stringify(e)).time)
  t.regex(wire[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(\d{3})?Z$/)
  t.true(Math.abs(events[0].time.getTime() - before) < 1000, 'still the wall clock, to the millisecond')
})

test('console.log(event) shows the class, the fields and time as a plain Date', (t) => {
  const { inspect } = require('node:util')
  class Shown extends j.Event {}
  const e = new Shown({ v: 1, time: '2026-01-02T03:04:05.123456Z' })
  const text = inspect(e)
  t.is(text, "Shown { time: 2026-01-02T03:04:05.123Z, v: 1 }")
  t.notRegex(text, /WireTime|EventTime|NowTime|text:/)
  t.is(JSON.stringify(e), '{"time":"2026-01-02T03:04:05.123456Z","v":1}', 'the wire keeps microseconds')
})
