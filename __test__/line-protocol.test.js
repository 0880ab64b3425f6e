// Events as InfluxDB points: the line protocol rules, tricky cases included, then the same cases
// written to a real InfluxDB 1.x and read back, directly and through the native engine.
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, until } = require('./helpers')
const { startInflux, rows } = require('./influx-helpers')

class FridgeReading extends j.Event {
  static measurement = 'fridge'
  static tags = ['qpu', 'stage']
  static integerFields = ['seq']
}

const T = '2026-01-02T03:04:05.123456Z'
const NS = '1767323045123456000'

test('fields, tags, types and the nanosecond timestamp', (t) => {
  const e = new FridgeReading({ qpu: 'qpu0', stage: 'mxc', kelvin: 0.0123, seq: 42, ok: true, note: 'cold', time: T })
  t.is(e.toLineProtocol(), `fridge,qpu=qpu0,stage=mxc kelvin=0.0123,seq=42i,ok=true,note="cold" ${NS}`)
  // Tags sorted by key; floats keep full precision; exponents as JS prints them.
  const f = new FridgeReading({ stage: 'b', qpu: 'a', kelvin: 1e-7, big: 1.7976931348623157e308, whole: 3, time: T })
  t.is(f.toLineProtocol(), `fridge,qpu=a,stage=b kelvin=1e-7,big=1.7976931348623157e+308,whole=3 ${NS}`)
  t.is(new FridgeReading({ kelvin: 1, seq: 2n ** 62n, time: T }).toLineProtocol(), `fridge kelvin=1,seq=4611686018427387904i ${NS}`)
})

test('escaping of measurement, tag keys and values, field keys and string values', (t) => {
  class Odd extends j.Event {
    static measurement = 'my meas,ure=ment'
    static tags = ['tag key', 'path']
  }
  const e = new Odd({ 'tag key': 'a,b=c d', path: 'C:\\temp', 'field,key=x y': 'say "hi" \\ there', time: T })
  t.is(e.toLineProtocol(), `my\\ meas\\,ure=ment,path=C:\\temp,tag\\ key=a\\,b\\=c\\ d field\\,key\\=x\\ y="say \\"hi\\" \\\\ there" ${NS}`)
  // A newline inside a string field is carried as is (InfluxDB stores it).
  t.is(new Odd({ msg: 'two\nlines', time: T }).toLineProtocol(), `my\\ meas\\,ure=ment msg="two\nlines" ${NS}`)
})

test('null and undefined are omitted; empty tags are omitted; nested objects are flattened', (t) => {
  const e = new FridgeReading({ qpu: '', stage: null, kelvin: 1.5, gone: null, missing: undefined, part: { mxc: { k: 0.01 }, ok: false }, time: T })
  t.is(e.toLineProtocol(), `fridge kelvin=1.5,part.mxc.k=0.01,part.ok=false ${NS}`)
})

test('what line protocol cannot carry is rejected with an error naming the field', (t) => {
  const bad = (data, re) => t.throws(() => new FridgeReading({ kelvin: 1, time: T, ...data }).toLineProtocol(), { instanceOf: TypeError, message: re })
  bad({ list: [1, 2] }, /field "list" is an array/)
  bad({ kelvin: NaN }, /field "kelvin" is NaN/)
  bad({ kelvin: Infinity }, /field "kelvin" is Infinity/)
  bad({ seq: 1.5 }, /integer field "seq" is 1\.5, not a safe integer/)
  bad({ qpu: 'a\nb' }, /tag "qpu" value "a\\nb" contains a line break/)
  bad({ qpu: 'ends\\' }, /backslash at its end/)
  bad({ qpu: 'a\\,b' }, /backslash at its end or before ","/)
  bad({ 'new\nline': 1 }, /field name "new\\nline" contains a line break/)
  bad({ qpu: { x: 1 } }, /tag "qpu" must be a string, number or boolean, got an object/)
  bad({ fn: () => 1 }, /field "fn" has a value of type function/)
  t.throws(() => new FridgeReading({ qpu: 'x', time: T }).toLineProtocol(), { message: /has no fields to store/ })
  class NoMeasurement extends j.Event {}
  t.throws(() => new NoMeasurement({ a: 1 }).toLineProtocol(), { message: /NoMeasurement has no static measurement/ })
  class Inherits extends FridgeReading {}
  t.throws(() => new Inherits({ a: 1 }).toLineProtocol(), { message: /Inherits has no static measurement/ }, 'measurement is not inherited')
  class Thief extends j.Event {
    static measurement = 'fridge'
  }
  t.throws(() => new Thief({ a: 1 }).toLineProtocol(), { message: /measurement "fridge" of Thief is already used by FridgeReading/ })
  class Both extends j.Event {
    static measurement = 'both'
    static tags = ['x']
    static integerFields = ['x']
  }
  t.throws(() => new Both({ x: 1 }).toLineProtocol(), { message: /cannot be both a tag and an integer field/ })
})

test('times: milliseconds from a Date, microseconds and nanoseconds from text', (t) => {
  const at = (time) => new FridgeReading({ kelvin: 1, time }).toLineProtocol().split(' ').pop()
  t.is(at(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 123))), '1767323045123000000')
  t.is(at('2026-01-02T03:04:05.123456Z'), '1767323045123456000')
  t.is(at('2026-01-02T03:04:05.123456789Z'), '1767323045123456789')
  t.is(at('2026-01-02T03:04:05Z'), '1767323045000000000')
  t.is(at('1969-12-31T23:59:59.999Z'), '-1000000')
})

test('tricky points survive a round trip through a real InfluxDB 1.x', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('lp')
  class Tricky extends j.Event {
    static measurement = 'tricky meas,urement'
    static tags = ['t k', 'path']
    static integerFields = ['n']
  }
  const events = [
    new Tricky({ 't k': 'a,b=c d', path: 'C:\\temp\\x', 'f,k=x y': 'say "hi" \\ there', n: -42, x: 0.1, yes: true, time: '2026-01-02T03:04:05.000001Z' }),
    new Tricky({ 't k': 'plain', msg: 'two\nlines', n: 9007199254740991, x: 1e-7, yes: false, time: '2026-01-02T03:04:05.123456789Z' }),
    new Tricky({ 't k': 'nested', part: { deep: { k: 1.25 } }, time: '2026-01-02T03:04:06Z' }),
  ]
  const body = events.map((e) => e.toLineProtocol()).join('\n')
  const r = await fetch(`${db.url}/write?db=lp&precision=ns`, { method: 'POST', body })
  t.is(r.status, 204, await r.text())
  const got = rows(await db.query('lp', 'SELECT * FROM "tricky meas,urement"'))
  t.log(JSON.stringify(got))
  t.is(got.length, 3)
  t.like(got[0], { time: '1767323045000001000', 't k': 'a,b=c d', path: 'C:\\temp\\x', 'f,k=x y': 'say "hi" \\ there', n: -42, x: 0.1, yes: true })
  t.like(got[1], { time: '1767323045123456789', 't k': 'plain', msg: 'two\nlines', n: 9007199254740991, x: 1e-7, yes: false })
  t.like(got[2], { time: '1767323046000000000', 't k': 'nested', 'part.deep.k': 1.25 })
  const types = rows(await db.query('lp', 'SHOW FIELD KEYS FROM "tricky meas,urement"'))
  t.like(Object.fromEntries(types.map((x) => [x.fieldKey, x.fieldType])), { n: 'integer', x: 'float', yes: 'boolean', msg: 'string' })
})

test('the same tricky points through the native engine: published, stored by a native sink, read back the same', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('lpn')
  class Tricky extends j.Event {
    static measurement = 'tricky nat,ive'
    static tags = ['t k', 'path']
    static integerFields = ['n']
    topic() {
      return 'tricky'
    }
  }
  const proxy = await startProxy()
  t.teardown(() => proxy.close())
  const sink = new j.TelemetrySink({ uri: proxy.backend, influx: { version: 1, url: db.url, database: 'lpn' }, flushInterval: 0.1 }).subscribe(Tricky).start()
  t.is(sink.engine, 'native')
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Tricky({ 't k': 'a,b=c d', path: 'C:\\temp\\x', 'f,k=x y': 'say "hi" \\ there', n: -42, x: 0.1, yes: true, time: '2026-01-02T03:04:05.000001Z' }))
  await pub.publish(new Tricky({ 't k': 'plain', msg: 'two\nlines', n: 9007199254740991, x: 1e-7, yes: false, time: '2026-01-02T03:04:05.123456789Z' }))
  await pub.publish(new Tricky({ 't k': 'nested', part: { deep: { k: 1.25 } }, time: '2026-01-02T03:04:06Z' }))
  await pub.close()
  t.true(await until(() => sink.stats().written === 3, 10_000), JSON.stringify(sink.stats()))
  await sink.close()
  const got = rows(await db.query('lpn', 'SELECT * FROM "tricky nat,ive"'))
  t.is(got.length, 3)
  t.like(got[0], { time: '1767323045000001000', 't k': 'a,b=c d', path: 'C:\\temp\\x', 'f,k=x y': 'say "hi" \\ there', n: -42, x: 0.1, yes: true })
  t.like(got[1], { time: '1767323045123456789', 't k': 'plain', msg: 'two\nlines', n: 9007199254740991, x: 1e-7, yes: false })
  t.like(got[2], { time: '1767323046000000000', 't k': 'nested', 'part.deep.k': 1.25 })
  const types = rows(await db.query('lpn', 'SHOW FIELD KEYS FROM "tricky nat,ive"'))
  t.like(Object.fromEntries(types.map((x) => [x.fieldKey, x.fieldType])), { n: 'integer', x: 'float', yes: 'boolean', msg: 'string' })
})

test('times with an offset or without a zone keep their microseconds: distinct instants stay distinct points', (t) => {
  class Offset extends j.Event {
    static measurement = 'offset_times'
  }
  const a = new Offset({ v: 1, time: '2026-01-02T04:04:05.123100+01:00' })
  const b = new Offset({ v: 1, time: '2026-01-02T04:04:05.123200+01:00' })
  const naive = new Offset({ v: 1, time: '2026-01-02T03:04:05.123456' })
  t.true(a.toLineProtocol().endsWith(' 1767323045123100000'), a.toLineProtocol())
  t.true(b.toLineProtocol().endsWith(' 1767323045123200000'), b.toLineProtocol())
  t.true(naive.toLineProtocol().endsWith(' 1767323045123456000'), 'a naive time is UTC')
  t.is(JSON.parse(JSON.stringify(a)).time, '2026-01-02T03:04:05.123100Z', 'normalised to UTC with every digit')
})

test('a measurement starting with "#" and Map, Set or class-instance fields are errors, never silently dropped', (t) => {
  class Hash extends j.Event {
    static measurement = '#comment'
  }
  t.throws(() => new Hash({ v: 1 }).toLineProtocol(), { instanceOf: TypeError, message: /starts with "#"/ })
  class Holder extends j.Event {
    static measurement = 'holder'
  }
  t.throws(() => new Holder({ m: new Map([['a', 1]]) }).toLineProtocol(), { instanceOf: TypeError, message: /field "m" is a Map/ })
  t.throws(() => new Holder({ s: new Set([1]) }).toLineProtocol(), { instanceOf: TypeError, message: /field "s" is a Set/ })
  class Thing {
    constructor() {
      this.x = 1
    }
  }
  t.throws(() => new Holder({ nested: { thing: new Thing() } }).toLineProtocol(), { instanceOf: TypeError, message: /field "nested.thing" is a Thing/ })
  t.is(new Holder({ nested: { plain: 1 }, time: '2026-01-01T00:00:00Z' }).toLineProtocol(), 'holder nested.plain=1 1767225600000000000')
})

test('static fields: declared types are enforced with errors naming the field; NaN text is left out of float fields', (t) => {
  class Typed extends j.Event {
    static measurement = 'typed'
    static tags = ['on']
    static fields = { k: 'float', n: 'int', on: 'bool', s: 'string' }
  }
  const at = '2026-01-01T00:00:00Z'
  t.is(new Typed({ k: 'NaN', n: 2, on: true, s: 'x', time: at }).toLineProtocol(), 'typed,on=True n=2i,s="x" 1767225600000000000')
  t.is(new Typed({ k: 2, n: 2, on: false, s: 'NaN', time: at }).toLineProtocol(), 'typed,on=False k=2,n=2i,s="NaN" 1767225600000000000')
  t.throws(() => new Typed({ k: 'warm', time: at }).toLineProtocol(), { instanceOf: TypeError, message: /field "k" is declared float but holds "warm"/ })
  t.throws(() => new Typed({ n: 1.5, time: at }).toLineProtocol(), { instanceOf: TypeError, message: /field "n" is declared int but holds 1.5/ })
  t.throws(() => new Typed({ k: 1, extra: 1, time: at }).toLineProtocol(), { instanceOf: TypeError, message: /field "extra" is not declared/ })
  t.throws(() => new Typed({ s: { nested: 1 }, time: at }).toLineProtocol(), { instanceOf: TypeError, message: /field "s" is declared string but holds object/ })
  // Float tags as Python prints them: 2.0, 1e-05, 1.5e+16.
  class FloatTag extends j.Event {
    static measurement = 'float_tag'
    static tags = ['level']
    static fields = { level: 'float', v: 'int' }
  }
  t.is(new FloatTag({ level: 2, v: 1, time: at }).toLineProtocol(), 'float_tag,level=2.0 v=1i 1767225600000000000')
  t.is(new FloatTag({ level: 1e-5, v: 1, time: at }).toLineProtocol(), 'float_tag,level=1e-05 v=1i 1767225600000000000')
  t.is(new FloatTag({ level: 1.5e16, v: 1, time: at }).toLineProtocol(), 'float_tag,level=1.5e+16 v=1i 1767225600000000000')
  class BadSchema extends j.Event {
    static measurement = 'bad_schema'
    static fields = { k: 'double' }
  }
  t.throws(() => new BadSchema({ k: 1 }).toLineProtocol(), { instanceOf: TypeError, message: /BadSchema.fields.k must be 'float', 'int', 'bool' or 'string', got "double"/ })
})

test('Point is the storage side on its own: Event builds on it, and line protocol needs no event', (t) => {
  class Reading extends j.Point {
    static measurement = 'reading'
    static tags = ['room']
  }
  const p = Object.assign(new Reading(), { time: new Date(1), room: 'lab 1', kelvin: 0.5 })
  t.is(p.toLineProtocol(), 'reading,room=lab\\ 1 kelvin=0.5 1000000')
  t.true(new j.Event() instanceof j.Point)
  // No import cycle: the line-protocol module loads without the event or point modules.
  const fs = require('node:fs')
  const path = require('node:path')
  const compiled = fs.readFileSync(path.join(__dirname, '..', 'dist', 'line-protocol.js'), 'utf8')
  t.notRegex(compiled, /require\("\.\/(event|point)"\)/)
})
