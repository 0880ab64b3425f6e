// Bad input from the caller gets a clear error that names the problem.
'use strict'
const test = require('ava')
const { j, startProxy, Telemetry } = require('./helpers')

test('an invalid URI fails at construction, naming the URI', (t) => {
  for (const Cls of [j.PublisherAsync, j.PublisherBlocking, j.SubscriberAsync, j.SubscriberBlocking]) {
    const err = t.throws(() => new Cls('localhost:5123'), { instanceOf: j.InvalidUriError })
    t.regex(err.message, /"localhost:5123"/)
    t.is(err.code, 'ERR_JUICE_INVALID_URI')
    t.throws(() => new Cls('tcp://127.0.0.1:70000'), { instanceOf: j.InvalidUriError, message: /70000/ })
    t.throws(() => new Cls(5123), { instanceOf: TypeError })
  }
})

test('publishing something that is not an Event is a TypeError', async (t) => {
  const proxy = await startProxy()
  const pub = new j.PublisherAsync(proxy.frontend, { subscriptionWait: 0 })
  await t.throwsAsync(pub.publish({ time: new Date() }), { instanceOf: TypeError, message: /Event instance/ })
  await t.throwsAsync(pub.publish(null), { instanceOf: TypeError })
  const bpub = new j.PublisherBlocking(proxy.frontend, { subscriptionWait: 0 })
  t.throws(() => bpub.publish('hello'), { instanceOf: TypeError, message: /got string/ })
  await pub.close()
  bpub.close()
  await proxy.close()
})

test('a topic() that is not a string, or an unserialisable event, is a TypeError', async (t) => {
  const proxy = await startProxy()
  const pub = new j.PublisherAsync(proxy.frontend, { subscriptionWait: 0 })
  class BadTopic extends j.Event {
    topic() {
      return 42
    }
  }
  await t.throwsAsync(pub.publish(new BadTopic()), { instanceOf: TypeError, message: /BadTopic\.topic\(\) must return a string/ })
  await t.throwsAsync(pub.publish(new Telemetry({ path: 'x', big: 1n })), { instanceOf: TypeError, message: /BigInt/ })
  await t.throwsAsync(pub.publish(new Telemetry({ path: 'x', time: new Date('nope') })), { instanceOf: TypeError, message: /time/ })
  t.throws(() => new Telemetry({ time: 'yesterday' }), { instanceOf: TypeError, message: /yesterday/ })
  await pub.close()
  await proxy.close()
})

test('type names with a dot are rejected: the dot separates topic segments', async (t) => {
  const proxy = await startProxy()
  class Dotted extends j.Event {
    static eventName = 'a.b'
  }
  const sub = new j.SubscriberAsync(proxy.backend)
  t.throws(() => sub.subscribe(Dotted), { instanceOf: TypeError, message: /"a\.b" must not contain '\.'/ })
  const pub = new j.PublisherAsync(proxy.frontend, { subscriptionWait: 0 })
  await t.throwsAsync(pub.publish(new Dotted()), { instanceOf: TypeError, message: /"a\.b"/ })
  t.throws(() => sub.subscribe({}), { instanceOf: TypeError, message: /Event class/ })
  t.throws(() => sub.subscribe(Telemetry, { topic: 5 }), { instanceOf: TypeError, message: /topic must be a string/ })
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('publish() after close() fails clearly', async (t) => {
  const proxy = await startProxy()
  const pub = new j.PublisherAsync(proxy.frontend, { subscriptionWait: 0 })
  await pub.close()
  await pub.close()
  t.true(pub.closed)
  await t.throwsAsync(pub.publish(new Telemetry()), { instanceOf: j.ClosedError, message: /closed publisher/ })
  const bpub = new j.PublisherBlocking(proxy.frontend, { subscriptionWait: 0 })
  bpub.close()
  t.throws(() => bpub.publish(new Telemetry()), { instanceOf: j.ClosedError })
  await proxy.close()
})

test('every error code of the Rust core becomes its own class, never a bare Error', (t) => {
  const { translate } = require('../dist/errors')
  const fs = require('node:fs')
  const path = require('node:path')
  const rust = fs.readFileSync(path.join(__dirname, '..', 'crates', 'juice-core', 'src', 'error.rs'), 'utf8')
  const codes = [...new Set(rust.match(/"ERR_JUICE_[A-Z_]+"/g).map((c) => c.slice(1, -1)))]
  t.true(codes.length >= 6, codes.join())
  const expected = {
    ERR_JUICE_INVALID_URI: j.InvalidUriError,
    ERR_JUICE_BIND: j.BindError,
    ERR_JUICE_INVALID_ARGUMENT: TypeError,
    ERR_JUICE_CLOSED: j.ClosedError,
    ERR_JUICE_TIMEOUT: j.TimeoutError,
    ERR_JUICE_ZMQ: j.ZmqError,
  }
  for (const code of codes) {
    const native = Object.assign(new Error(`from the addon: ${code}`), { code })
    const e = translate(native)
    t.truthy(expected[code], `${code} has an expected class here`)
    t.true(e instanceof expected[code], `${code} -> ${e.constructor.name}`)
    t.is(e.message, native.message)
    t.is(e.cause, native)
    if (e instanceof j.JuiceError) t.is(e.code, code)
  }
})

test('library errors are JuiceError subclasses with stable codes: an empty legacy queue, an unreachable InfluxDB', async (t) => {
  const q = new j.AsyncQueue()
  const empty = t.throws(() => q.getNowait(), { instanceOf: j.QueueEmptyError })
  t.is(empty.code, 'ERR_JUICE_QUEUE_EMPTY')
  const sink = new j.TelemetrySink({ uri: 'tcp://127.0.0.1:1', influx: { version: 1, url: 'http://127.0.0.1:1', database: 'x' }, flushInterval: 60 })
  const down = await t.throwsAsync(sink.checkDatabase(), { instanceOf: j.InfluxError })
  t.is(down.code, 'ERR_JUICE_INFLUX')
  t.regex(down.message, /127\.0\.0\.1:1/)
  await sink.close()
})
