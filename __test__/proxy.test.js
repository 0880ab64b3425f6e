// The embedded Proxy: binding, port 0, stats, shutdown, and its defaults.
'use strict'
const test = require('ava')
const net = require('node:net')
const { j, startProxy, subscribed, drain, until, Telemetry } = require('./helpers')

test('port 0 binds real ports and frontend/backend report them', async (t) => {
  const proxy = await startProxy()
  for (const ep of [proxy.frontend, proxy.backend]) {
    const m = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(ep)
    t.truthy(m, ep)
    t.true(Number(m[1]) > 0)
  }
  t.not(proxy.frontend, proxy.backend)
  await proxy.close()
})

test('stats() counts messages, bytes and live subscriptions', async (t) => {
  const proxy = await startProxy()
  t.deepEqual(proxy.stats(), { messages: 0, bytes: 0, subscriptions: 0, authAccepted: 0, authDenied: 0, publishers: 0, subscribers: 0, rejectedSubscriptions: 0 })
  const a = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'a' })
  const b = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'a' }).subscribe(Telemetry, { topic: 'b' })
  await subscribed(proxy, 2)
  t.is(proxy.stats().subscriptions, 2, 'distinct prefixes: Telemetry.a. and Telemetry.b.')
  const pub = new j.PublisherAsync(proxy.frontend)
  const ev = new Telemetry({ path: 'a', v: 1 })
  await pub.publish(ev)
  await pub.publish(new Telemetry({ path: 'zzz' }))
  t.true(await until(() => proxy.stats().publishers === 1 && proxy.stats().subscribers === 2), 'connections are counted')
  t.true(await until(() => pub.stats().connected && a.stats().connected), 'clients report their connection')
  await pub.close()
  t.true(await until(() => proxy.stats().publishers === 0), 'a closed publisher is no longer counted')
  t.is((await drain(a)).length, 1)
  t.is((await drain(b)).length, 1)
  const s = proxy.stats()
  t.is(s.messages, 1, 'the unsubscribed topic is filtered at the publisher')
  t.is(s.bytes, Buffer.byteLength('Telemetry.a.') + Buffer.byteLength(JSON.stringify(ev)))
  await a.close()
  await b.close()
  t.true(await until(() => proxy.stats().subscriptions === 0), 'subscriptions drop when subscribers leave')
  await proxy.close()
})

test('close() unbinds the ports and is idempotent', async (t) => {
  const proxy = await startProxy()
  const port = Number(proxy.frontend.split(':').pop())
  await proxy.close()
  await proxy.close()
  await new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject)
    srv.listen(port, '127.0.0.1', () => srv.close(resolve))
  })
  t.pass()
})

test('a busy endpoint or bad URI fails start() with InvalidUriError naming the URI', async (t) => {
  const proxy = await startProxy()
  const err = await t.throwsAsync(j.Proxy.start({ frontend: proxy.frontend, backend: 'tcp://127.0.0.1:0' }), {
    instanceOf: j.InvalidUriError,
  })
  t.true(err.message.includes(proxy.frontend), err.message)
  await t.throwsAsync(j.Proxy.start({ frontend: 'nonsense', backend: 'tcp://127.0.0.1:0' }), {
    instanceOf: j.InvalidUriError,
    message: /"nonsense"/,
  })
  await proxy.close()
})

test('defaults are upstream Juice ports 5122 (publishers) and 5123 (subscribers)', (t) => {
  t.is(j.DEFAULT_FRONTEND, 'tcp://*:5122')
  t.is(j.DEFAULT_BACKEND, 'tcp://*:5123')
})

test('ipc endpoints work as well as tcp', async (t) => {
  const dir = require('node:os').tmpdir()
  const tag = `${process.pid}-${Date.now()}`
  const proxy = await j.Proxy.start({ frontend: `ipc://${dir}/juice-f-${tag}`, backend: `ipc://${dir}/juice-b-${tag}` })
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Telemetry({ path: 'x', ok: true }))
  t.true((await sub.get(5)).ok)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('topics() and the query endpoint list forwarded topics with last-seen time and count', async (t) => {
  const proxy = await startProxy({ query: 'tcp://127.0.0.1:0', maxTopics: 3 })
  t.regex(proxy.query, /^tcp:\/\/127\.0\.0\.1:\d+$/)
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  const before = Date.now()
  for (const path of ['qpu0.fridge', 'qpu0.fridge', 'qpu1', null, 'qpu2', 'qpu3', 'qpu0.fridge']) {
    await pub.publish(new Telemetry({ path }))
  }
  await pub.close()
  t.is((await drain(sub, 0.3, { atLeast: 7 })).length, 7)
  // The proxy thread publishes its topic tally every 100 ms.
  t.true(await until(() => proxy.topics().overflow === 2))
  const local = proxy.topics()
  t.deepEqual(
    local.topics.map((x) => [x.name, x.count]),
    [['Telemetry', 1], ['Telemetry.qpu0.fridge', 3], ['Telemetry.qpu1', 1]],
  )
  t.is(local.overflow, 2, 'qpu2 and qpu3 did not fit in maxTopics 3')
  for (const x of local.topics) t.true(x.lastSeen.getTime() >= before - 1000 && x.lastSeen.getTime() <= Date.now())
  const remote = await j.queryTopics(proxy.query)
  t.deepEqual(remote.topics.map((x) => x.name), local.topics.map((x) => x.name))
  const stats = await j.queryStats(proxy.query)
  t.is(stats.messages, 7)
  t.is(stats.subscribers, 1)
  await sub.close()
  await proxy.close()
  await t.throwsAsync(() => j.queryTopics(proxy.query, { timeout: 0.2 }), { instanceOf: j.TimeoutError, message: /no answer from the proxy's query endpoint/ })
})

test('maxTopics 0 turns topic tracking off', async (t) => {
  const proxy = await startProxy({ maxTopics: 0 })
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Telemetry({ path: 'a' }))
  await pub.close()
  t.is((await drain(sub, 0.3, { atLeast: 1 })).length, 1)
  t.deepEqual(proxy.topics(), { topics: [], overflow: 0 })
  t.is(proxy.query, undefined)
  await sub.close()
  await proxy.close()
})

// Serial, so no other test of this file holds the event loop while the ticks are counted.
test.serial('a query waits off the event loop: timers keep firing while it times out', async (t) => {
  let ticks = 0
  const iv = setInterval(() => ticks++, 10)
  await t.throwsAsync(j.queryTopics('tcp://127.0.0.1:9', { timeout: 0.6 }), { instanceOf: j.TimeoutError })
  clearInterval(iv)
  // About 60 ticks are due; a query that blocked the thread would let none run. The bound is
  // loose because other test files share the two cores.
  t.true(ticks >= 5, `${ticks} timer ticks during the query`)
})

test('a running proxy is not garbage-collected when its starter drops the reference; close() releases it', async (t) => {
  const script = `
    const j = require(${JSON.stringify(require('node:path').join(__dirname, '..'))})
    class Ping extends j.Event {}
    ;(async () => {
      const endpoints = await (async () => {
        const p = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
        return { frontend: p.frontend, backend: p.backend } // the Proxy object itself is dropped here
      })()
      for (let i = 0; i < 5; i++) { global.gc(); await new Promise((r) => setTimeout(r, 20)) }
      const sub = new j.SubscriberAsync(endpoints.backend).subscribe(Ping)
      const pub = new j.PublisherAsync(endpoints.frontend)
      await pub.publish(new Ping({ n: 7 }))
      console.log((await sub.get(5)).n)
      await pub.close(); await sub.close()
      process.exit(0)
    })().catch((e) => { console.error(e.message); process.exit(1) })`
  // Asynchronous, so the child does not freeze this file's other tests.
  const r = await new Promise((resolve) => {
    require('node:child_process').execFile(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (err.code ?? 1) : 0, stdout, stderr }),
    )
  })
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout.trim(), '7')
})
