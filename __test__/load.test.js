// Several publishers and subscribers at once, overflow accounting, and flush on close.
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, until, Telemetry, KernelStatusChanged } = require('./helpers')

test('4 publishers x 3 subscribers: every subscriber gets every matching event exactly once', async (t) => {
  const proxy = await startProxy()
  // One at a time: the proxy counts distinct prefixes, so subs[2]'s Telemetry. alone could make
  // up the count of 3 before subs[0] is attached. subs[2]'s KernelStatusChanged. comes after its
  // Telemetry. on the same connection.
  const subs = [new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)]
  await subscribed(proxy, 1)
  subs.push(new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'p1' }))
  await subscribed(proxy, 2)
  subs.push(new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry).subscribe(KernelStatusChanged))
  await subscribed(proxy, 3)
  const per = 2000
  const pubs = [0, 1, 2, 3].map((p) => (p % 2 ? new j.PublisherAsync(proxy.frontend) : new j.PublisherBlocking(proxy.frontend)))
  await Promise.all(
    pubs.map(async (pub, p) => {
      for (let i = 0; i < per; i++) {
        await pub.publish(new Telemetry({ path: `p${p}.x`, p, i }))
      }
      await pub.publish(new KernelStatusChanged({ service: 's', p }))
    }),
  )
  await Promise.all(pubs.map((p) => p.close()))
  const collect = async (sub, n) => {
    const seen = new Map()
    for (let k = 0; k < n; k++) {
      const e = sub instanceof j.SubscriberBlocking ? sub.get(10) : await sub.get(10)
      const key = e instanceof KernelStatusChanged ? `k${e.p}` : `${e.p}:${e.i}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
    }
    return seen
  }
  const all = await collect(subs[0], 4 * per)
  t.is(all.size, 4 * per)
  t.true([...all.values()].every((c) => c === 1))
  const p1 = await collect(subs[1], per)
  t.true([...p1.keys()].every((k) => k.startsWith('1:')))
  const both = await collect(subs[2], 4 * per + 4)
  t.is(both.size, 4 * per + 4)
  for (const s of subs) {
    t.is(s.stats().dropped, 0)
    t.is(s.stats().queued, 0)
    await s.close()
  }
  await proxy.close()
})

test('a full subscriber queue drops at its high-water mark and counts each drop exactly', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend, { maxQueue: 100 }).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  const n = 1000
  for (let i = 0; i < n; i++) await pub.publish(new Telemetry({ path: 'x', i }))
  await pub.close()
  // received counts each message as it is read; queued and dropped follow at the end of the burst.
  await until(() => {
    const s = sub.stats()
    return s.received === n && s.queued + s.dropped === n
  })
  const s = sub.stats()
  t.is(s.received, n)
  t.is(s.queued, 100)
  t.is(s.dropped, n - 100)
  const got = []
  for (let i = 0; i < 100; i++) got.push((await sub.get(1)).i)
  t.deepEqual(got, [...Array(100).keys()], 'the oldest events are kept, the overflow is dropped')
  await t.throwsAsync(sub.get(0.1), { instanceOf: j.TimeoutError })
  await sub.close()
  await proxy.close()
})

test('close() flushes: 100,000 events published before close() all arrive', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  const n = 100_000
  for (let i = 0; i < n; i++) pub.publish(new Telemetry({ path: 'x', i }))
  await pub.close()
  t.is(pub.stats().sent, n)
  t.is(pub.stats().unsent, 0)
  t.false(pub.stats().lingerExpired, 'everything was written before linger ran out')
  let inOrder = 0
  for (let k = 0; k < n; k++) if ((await sub.get(10)).i === k) inOrder++
  t.is(inOrder, n, 'every event arrives, in order')
  t.is(sub.stats().dropped, 0)
  await sub.close()
  await proxy.close()
})
