// The deprecated queue / listen() / stop() trio of SubscriberAsync.
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, Telemetry } = require('./helpers')

test('listen() moves events into queue until stop()', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const listening = sub.listen()
  await t.throwsAsync(sub.listen(), { message: /already running/ })
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let i = 0; i < 10; i++) await pub.publish(new Telemetry({ path: 'x', i }))
  const got = []
  for (let i = 0; i < 10; i++) got.push((await sub.queue.get()).i)
  t.deepEqual(got, [...Array(10).keys()])
  t.is(sub.queue.size, 0)
  sub.stop()
  await listening
  // After stop(), events stay with the subscriber instead of the queue.
  await pub.publish(new Telemetry({ path: 'x', i: 99 }))
  t.is((await sub.get(5)).i, 99)
  t.is(sub.queue.size, 0)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('a caller-supplied queue is used', async (t) => {
  const proxy = await startProxy()
  const queue = new j.AsyncQueue()
  await queue.put('before')
  const sub = new j.SubscriberAsync(proxy.backend, { queue }).subscribe(Telemetry)
  t.is(sub.queue, queue)
  t.is(queue.size, 1)
  t.is(await queue.get(), 'before')
  await sub.close()
  await proxy.close()
})
