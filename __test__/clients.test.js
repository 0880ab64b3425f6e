// Client-side robustness: long timeouts, hostile payload keys, option ranges, oversized events,
// reclaiming abandoned subscribers, tearing down threads blocked in get(), and blocking scripts
// that never yield.
'use strict'
const test = require('ava')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { j, startProxy, subscribed, until, rawPub, Telemetry } = require('./helpers')

const child = path.join(__dirname, 'fixtures', 'teardown-child.js')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function run(mode, killAfterMs, nodeArgs = []) {
  return new Promise((resolve) => {
    const started = Date.now()
    const p = spawn(process.execPath, [...nodeArgs, child, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs)
    p.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out, ms: Date.now() - started })
    })
  })
}

test('get(Infinity) and get(3e6) wait instead of timing out at once, with no TimeoutOverflowWarning', async (t) => {
  const warnings = []
  const onWarning = (w) => warnings.push(w.name)
  process.on('warning', onWarning)
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  const results = [sub.get(Infinity), sub.get(3e6), sub.get(2 ** 40)].map((p) => p.then(() => 'event', (e) => e.name))
  await sleep(300)
  const settled = await Promise.race([Promise.all(results), sleep(50).then(() => 'pending')])
  t.is(settled, 'pending', 'still waiting after 300 ms')
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let i = 0; i < 3; i++) await pub.publish(new Telemetry({ path: 'x' }))
  t.deepEqual(await Promise.all(results), ['event', 'event', 'event'])
  // Its own prefix, so the proxy's count shows it is in place (a second Telemetry. would not);
  // get(Infinity) would hang on a missed event.
  const blocking = new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry, { topic: 'y' })
  await subscribed(proxy, 2)
  await pub.publish(new Telemetry({ path: 'y' }))
  await pub.close()
  t.is(blocking.get(Infinity).path, 'y', 'a blocking get(Infinity) returns the event')
  blocking.close()
  await sub.close()
  await proxy.close()
  process.off('warning', onWarning)
  t.false(warnings.includes('TimeoutOverflowWarning'))
})

test('wire keys that would replace the prototype or a method are counted as malformed, never delivered', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const raw = await rawPub(proxy.frontend, 'Telemetry.')
  const hostile = [
    '{"__proto__":{"polluted":true,"topic":1},"n":1}',
    '{"topic":"not a method","n":2}',
    '{"constructor":{},"n":3}',
    '{"toLineProtocol":null,"n":4}',
    '{"hasOwnProperty":1,"n":5}',
  ]
  for (const h of hostile) await raw.send(['Telemetry.', h])
  await raw.send(['Telemetry.', '{"n":6,"note":"__proto__ as a value is fine"}'])
  const ev = await sub.get(5)
  t.is(ev.n, 6)
  t.true(ev instanceof Telemetry)
  t.is(typeof ev.topic, 'function')
  t.is({}.polluted, undefined)
  t.true(await until(() => sub.stats().malformedJson === hostile.length))
  await t.throwsAsync(() => sub.get(0.3), { instanceOf: j.TimeoutError }, 'nothing else is delivered')
  raw.close()
  await sub.close()
  await proxy.close()
  // The same keys in constructor data are a TypeError naming the key.
  t.throws(() => new Telemetry(JSON.parse('{"__proto__":{"x":1}}')), { instanceOf: TypeError, message: /"__proto__"/ })
  t.throws(() => new Telemetry({ topic: 'a' }), { instanceOf: TypeError, message: /"topic"/ })
})

test('every numeric option is range-checked with a TypeError naming it', async (t) => {
  const uri = 'tcp://127.0.0.1:9'
  const influx = { version: 1, url: 'http://127.0.0.1:9', database: 'x' }
  const bad = [
    [() => new j.SubscriberAsync(uri, { maxQueue: -1 }), /Subscriber option maxQueue must be an integer from 1 to 4294967295, got -1/],
    [() => new j.SubscriberAsync(uri, { maxPayload: NaN }), /maxPayload .* got NaN/],
    [() => new j.SubscriberBlocking(uri, { maxQueueBytes: 1.5 }), /maxQueueBytes/],
    [() => new j.SubscriberAsync(uri, { rcvHwm: 2 ** 31 }), /rcvHwm/],
    [() => new j.SubscriberAsync(uri, { maxMessageSize: 0 }), /maxMessageSize .* -1 for no limit/],
    [() => new j.SubscriberAsync(uri, { lossless: 'yes' }), /lossless must be true or false/],
    [() => new j.PublisherAsync(uri, { sndHwm: -5 }), /Publisher option sndHwm/],
    [() => new j.PublisherAsync(uri, { linger: Infinity }), /linger must be a number of seconds from 0 to/],
    [() => new j.PublisherBlocking(uri, { subscriptionWait: -1 }), /subscriptionWait/],
    [() => new j.PublisherAsync(uri, { maxMessageSize: '1MB' }), /maxMessageSize/],
    [() => j.Proxy.startSync({ maxTopics: -1 }), /Proxy option maxTopics/],
    [() => j.Proxy.startSync({ sndHwm: NaN }), /Proxy option sndHwm/],
    [() => j.Proxy.startSync({ maxSubscription: 0 }), /maxSubscription must be an integer from 1 to 65536/],
    [() => j.Proxy.startSync({ maxTopicsBytes: -1 }), /maxTopicsBytes/],
    [() => new j.TelemetrySink({ uri, influx, batchSize: 0.5 }), /TelemetrySink option batchSize must be an integer from 1/],
    [() => new j.TelemetrySink({ uri, influx, maxBuffer: 0 }), /TelemetrySink option maxBuffer/],
    [() => new j.TelemetrySink({ uri, influx, flushInterval: 0 }), /TelemetrySink option flushInterval must be a number of seconds above 0/],
    [() => new j.TelemetrySink({ uri, influx, retry: { max: NaN } }), /TelemetrySink option retry.max .* got NaN/],
  ]
  for (const [f, msg] of bad) t.throws(f, { instanceOf: TypeError, message: msg }, String(msg))
  await t.throwsAsync(j.queryTopics(uri, { timeout: -1 }), { instanceOf: TypeError, message: /query option timeout must be a number of seconds from 0 to/ })
  // Edge values that are valid.
  const s = new j.SubscriberAsync(uri, { maxQueue: 2 ** 32 - 1, maxMessageSize: -1, maxPayload: 0 })
  s.close()
  const p = new j.PublisherBlocking(uri, { linger: 0, maxMessageSize: -1 })
  p.close()
})

test('an event over the publisher maxMessageSize is refused with a clear error; the events after it arrive', async (t) => {
  const proxy = await startProxy({ maxMessageSize: 1 << 20 })
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend, { maxMessageSize: 1 << 20 })
  await pub.publish(new Telemetry({ path: 'a', n: 1 }))
  await t.throwsAsync(() => pub.publish(new Telemetry({ path: 'a', n: 2, blob: 'x'.repeat(2 << 20) })), {
    instanceOf: TypeError,
    message: /Telemetry event is \d+ bytes on the wire; this publisher's maxMessageSize is 1048576 bytes/,
  })
  for (let n = 3; n <= 100; n++) await pub.publish(new Telemetry({ path: 'a', n }))
  const blocking = new j.PublisherBlocking(proxy.frontend, { maxMessageSize: 1000 })
  t.throws(() => blocking.publish(new Telemetry({ path: 'a', blob: 'y'.repeat(2000) })), { instanceOf: TypeError, message: /maxMessageSize is 1000 bytes/ })
  blocking.close()
  await pub.close()
  const got = []
  while (got.length < 99) got.push((await sub.get(5)).n)
  t.deepEqual(got, [1, ...Array.from({ length: 98 }, (_, i) => i + 3)])
  t.is(pub.stats().published, 99)
  await sub.close()
  await proxy.close()
})

test('abandoned async subscribers are garbage collected: their threads and descriptors go away', async (t) => {
  const r = await run('gc', 60_000, ['--expose-gc'])
  t.is(r.code, 0, r.out)
  const { before, peak, after } = JSON.parse(r.out.trim().split('\n').pop())
  t.log({ before, peak, after })
  t.true(peak.threads >= before.threads + 80, 'each subscriber had a receive thread')
  t.true(after.threads <= before.threads + 4, `threads: ${before.threads} -> ${after.threads}`)
  t.true(after.fds <= before.fds + 16, `fds: ${before.fds} -> ${after.fds}`)
})

test('an unreferenced subscriber with a pending get() is not collected: the get() resolves', async (t) => {
  const r = await run('pending', 30_000, ['--expose-gc'])
  t.is(r.code, 0, r.out)
  t.deepEqual(JSON.parse(r.out.trim().split('\n').pop()), { got: 42 })
})

test('worker.terminate() resolves while the worker blocks in SubscriberBlocking.get()', async (t) => {
  const r = await run('terminate', 20_000)
  t.is(r.signal, null, `hung and was killed: ${r.out}`)
  t.is(r.code, 0, r.out)
  t.regex(r.out, /terminated/)
})

test('process.exit() returns while a worker blocks in SubscriberBlocking.get()', async (t) => {
  const r = await run('exit', 20_000)
  t.is(r.signal, null, `hung and was killed: ${r.out}`)
  t.is(r.code, 0, r.out)
  t.regex(r.out, /worker waiting/)
})

test('a blocking script that never yields: publish, get, publish, get, with several publishers', (t) => {
  const proxy = j.Proxy.startSync({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
  const sub = new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry, { topic: 'blk' })
  const pubs = [0, 1, 2].map(() => new j.PublisherBlocking(proxy.frontend))
  let n = 0
  for (let round = 0; round < 5; round++) {
    for (const pub of pubs) {
      pub.publish(new Telemetry({ path: 'blk', n: ++n }))
      t.is(sub.get(5).n, n)
    }
  }
  for (const pub of pubs) {
    t.is(pub.stats().sent, 5)
    pub.close()
  }
  sub.close()
  return proxy.close()
})

test('300 subscribers in one process all receive, and a proxy still starts afterwards', async (t) => {
  const proxy = await startProxy()
  const subs = []
  for (let i = 0; i < 300; i++) subs.push(new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: `s${i}` }))
  await subscribed(proxy, 300, 30_000)
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let i = 0; i < 300; i++) await pub.publish(new Telemetry({ path: `s${i}`, i }))
  await pub.close()
  const got = await Promise.all(subs.map((s) => s.get(10).then((e) => e.i)))
  t.deepEqual(got, Array.from({ length: 300 }, (_, i) => i))
  const second = await startProxy()
  await second.close()
  await Promise.all(subs.map((s) => s.close()))
  await proxy.close()
})

for (const scheme of ['tcp', 'ipc', 'inproc']) {
  test(`pub/sub through an embedded proxy over ${scheme}`, async (t) => {
    const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`
    const ends = {
      tcp: ['tcp://127.0.0.1:0', 'tcp://127.0.0.1:0'],
      ipc: [`ipc:///tmp/juice-f-${tag}`, `ipc:///tmp/juice-b-${tag}`],
      inproc: [`inproc://f-${tag}`, `inproc://b-${tag}`],
    }[scheme]
    const proxy = await j.Proxy.start({ frontend: ends[0], backend: ends[1] })
    const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'q' })
    await subscribed(proxy)
    const pub = new j.PublisherAsync(proxy.frontend)
    for (let n = 0; n < 100; n++) await pub.publish(new Telemetry({ path: 'q', n }))
    await pub.close()
    const got = []
    while (got.length < 100) got.push((await sub.get(5)).n)
    t.deepEqual(got, Array.from({ length: 100 }, (_, n) => n))
    t.is(pub.stats().unrouted, 0)
    await sub.close()
    await proxy.close()
  })
}

test('unrouted counts exactly the events no live subscription matches, while other subscriptions exist', async (t) => {
  class Other extends j.Event {}
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'a' })
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let i = 0; i < 3; i++) await pub.publish(new Other({ i }))
  for (let i = 0; i < 2; i++) await pub.publish(new Telemetry({ path: 'b', i }))
  for (let i = 0; i < 2; i++) await pub.publish(new Telemetry({ path: 'ab', i }))
  for (let i = 0; i < 4; i++) await pub.publish(new Telemetry({ path: 'a.x', i }))
  await pub.close()
  const s = pub.stats()
  t.is(s.sent, 11)
  t.is(s.unrouted, 7, 'Other x3, Telemetry.b x2 and Telemetry.ab x2 had no subscriber')
  const got = []
  while (got.length < 4) got.push((await sub.get(5)).path)
  t.deepEqual(got, ['a.x', 'a.x', 'a.x', 'a.x'])
  await sub.close()
  await proxy.close()
})

test('swapped ports are named: a subscriber on the publisher port, a publisher on the subscriber port', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.frontend).subscribe(Telemetry)
  const err = await t.throwsAsync(() => sub.get(1.5), { instanceOf: j.TimeoutError })
  t.regex(err.message, /is a proxy's publisher port \(XSUB\); subscribers connect to its subscriber port/)
  const pub = new j.PublisherAsync(proxy.backend)
  t.is(pub.handshakeError(), undefined, 'not diagnosed during the first second')
  await new Promise((r) => setTimeout(r, 1200))
  t.regex(pub.handshakeError(), /is a proxy's subscriber port \(XPUB\); publishers connect to its publisher port/)
  const right = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await new Promise((r) => setTimeout(r, 1200))
  t.is(right.handshakeError(), undefined, 'a connected client has nothing to explain')
  await right.close()
  await sub.close()
  await pub.close()
  await proxy.close()
})
