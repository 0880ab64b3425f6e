// get(): timeouts, true blocking, abort, and behaviour around close().
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, Telemetry } = require('./helpers')

test('async get() rejects with TimeoutError when nothing arrives in time', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  const t0 = Date.now()
  const err = await t.throwsAsync(sub.get(0.25), { instanceOf: j.TimeoutError })
  t.is(err.code, 'ERR_JUICE_TIMEOUT')
  t.true(Date.now() - t0 >= 240)
  await sub.close()
  await proxy.close()
})

test('a timed-out get() does not swallow the next event', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  await t.throwsAsync(sub.get(0.05), { instanceOf: j.TimeoutError })
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Telemetry({ path: 'x', i: 7 }))
  t.is((await sub.get(5)).i, 7)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('concurrent async get() calls are served in order', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const waits = [sub.get(5), sub.get(5), sub.get(5)]
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let i = 0; i < 3; i++) await pub.publish(new Telemetry({ path: 'x', i }))
  t.deepEqual((await Promise.all(waits)).map((e) => e.i), [0, 1, 2])
  await pub.close()
  await sub.close()
  await proxy.close()
})

// Serial: process.cpuUsage() counts every thread of the process, so the proxies, I/O threads and
// watchers of other tests of this file running meanwhile would count against the wait.
test.serial('blocking get() really blocks: a timer due meanwhile does not fire during it', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry)
  let fired = false
  setTimeout(() => {
    fired = true
  }, 10)
  const t0 = Date.now()
  t.throws(() => sub.get(0.3), { instanceOf: j.TimeoutError })
  const waited = Date.now() - t0
  t.false(fired, 'the event loop must not run inside a blocking get()')
  t.true(waited >= 290, `waited ${waited} ms`)
  // The CPU time of the wait shows it does not spin.
  const cpu0 = process.cpuUsage()
  t.throws(() => sub.get(0.3), { instanceOf: j.TimeoutError })
  const cpu = process.cpuUsage(cpu0)
  t.true(cpu.user + cpu.system < 100_000, `blocking wait used ${cpu.user + cpu.system} us of CPU`)
  await new Promise((r) => setTimeout(r, 20))
  t.true(fired)
  sub.close()
  await proxy.close()
})

test('blocking get() returns events and blocking publish() delivers them', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry, { topic: 'q' })
  await subscribed(proxy)
  const pub = new j.PublisherBlocking(proxy.frontend)
  for (let i = 0; i < 100; i++) pub.publish(new Telemetry({ path: 'q.' + i, i }))
  const got = []
  for (let i = 0; i < 100; i++) got.push(sub.get(5).i)
  t.deepEqual(got, [...Array(100).keys()])
  t.throws(() => sub.get(0), { instanceOf: j.TimeoutError })
  pub.close()
  pub.close()
  sub.close()
  sub.close()
  await proxy.close()
})

test('get() after close() fails clearly; close() settles pending get()s; close is idempotent', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  const pending = sub.get()
  const pending2 = sub.get(10)
  await sub.close()
  await sub.close()
  await t.throwsAsync(pending, { instanceOf: j.ClosedError })
  await t.throwsAsync(pending2, { instanceOf: j.ClosedError })
  const err = await t.throwsAsync(sub.get(1), { instanceOf: j.ClosedError })
  t.regex(err.message, /get\(\) called on a closed subscriber/)
  const bsub = new j.SubscriberBlocking(proxy.backend)
  bsub.close()
  t.throws(() => bsub.get(1), { instanceOf: j.ClosedError, message: /closed subscriber/ })
  t.throws(() => bsub.subscribe(Telemetry), { instanceOf: j.ClosedError })
  await proxy.close()
})

test('an AbortSignal cancels a waiting get()', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  const ctl = new AbortController()
  const p = sub.get(null, { signal: ctl.signal })
  setTimeout(() => ctl.abort(), 20)
  const aborted = await t.throwsAsync(p, { instanceOf: j.AbortError })
  t.is(aborted.code, 'ERR_JUICE_ABORTED', 'a stable ERR_JUICE_* code, as every JuiceError has')
  await t.throwsAsync(sub.get(null, { signal: AbortSignal.abort() }), { instanceOf: j.AbortError })
  await sub.close()
  await proxy.close()
})

test('bad timeouts are rejected with a message naming the value', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend)
  await t.throwsAsync(sub.get(-1), { instanceOf: TypeError, message: /-1/ })
  await t.throwsAsync(sub.get('soon'), { instanceOf: TypeError, message: /soon/ })
  await sub.close()
  await proxy.close()
})

test('for await iterates events until the subscriber closes', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let i = 0; i < 5; i++) await pub.publish(new Telemetry({ path: 'x', i }))
  const seen = []
  for await (const ev of sub) {
    seen.push(ev.i)
    if (seen.length === 5) setTimeout(() => sub.close(), 10)
  }
  t.deepEqual(seen, [0, 1, 2, 3, 4])
  await pub.close()
  await proxy.close()
})

test('PublisherBlocking hands events to libzmq at the end of the task, on flush(), and before a blocking get()', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherBlocking(proxy.frontend)
  pub.publish(new Telemetry({ path: 'x', i: 1 }))
  t.is(pub.stats().sent, 0, 'queued, not yet sent, within the same synchronous stretch')
  pub.flush()
  t.is(pub.stats().sent, 1)
  pub.publish(new Telemetry({ path: 'x', i: 2 }))
  await Promise.resolve()
  t.is(pub.stats().sent, 2, 'sent when the task ended')
  pub.publish(new Telemetry({ path: 'x', i: 3 }))
  t.deepEqual([sub.get(5).i, sub.get(5).i, sub.get(5).i], [1, 2, 3], 'get() flushed event 3 before blocking')
  pub.close()
  sub.close()
  await proxy.close()
})
