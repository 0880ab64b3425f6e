// Topic filtering and type exactness through a real proxy and real sockets.
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, drain, Telemetry, FridgeTelemetry, KernelStatusChanged } = require('./helpers')

test('the seed topic table: "a.b" matches a.b and a.b.c, not a.c, a.bb or a', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'a.b' })
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  for (const path of ['a.b', 'a.c', 'a.bb', 'a', 'a.b.c', 'a.bb.c', 'b.a.b']) {
    await pub.publish(new Telemetry({ path }))
  }
  const got = (await drain(sub, 0.3, { atLeast: 2 })).map((e) => e.path)
  t.deepEqual(got, ['a.b', 'a.b.c'])
  t.is(sub.stats().unmatched, 0, 'the proxy filters; the native tree sees only candidates')
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('subscriptions are per exact type: subclasses and same-prefix names are not delivered', async (t) => {
  const proxy = await startProxy()
  class Tele extends j.Event {}
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new FridgeTelemetry({ path: 'x', n: 1 }))
  await pub.publish(new Tele({ n: 2 }))
  await pub.publish(new Telemetry({ path: 'x', n: 3 }))
  const got = await drain(sub, 0.3, { atLeast: 1 })
  t.deepEqual(got.map((e) => e.n), [3])
  t.true(got[0] instanceof Telemetry)
  t.is(got[0].constructor, Telemetry)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('several subscriptions on one subscriber, each with its own type and topic', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend)
  sub.subscribe(Telemetry, { topic: 'qpu0' }).subscribe(Telemetry, { topic: 'qpu1.fridge' })
  sub.subscribe(KernelStatusChanged)
  await subscribed(proxy, 3)
  const pub = new j.PublisherAsync(proxy.frontend)
  const sent = [
    new Telemetry({ path: 'qpu0.fridge', i: 0 }),
    new Telemetry({ path: 'qpu1.fridge.mxc', i: 1 }),
    new Telemetry({ path: 'qpu1.pump', i: 2 }),
    new KernelStatusChanged({ service: 'q9', i: 3 }),
    new Telemetry({ path: 'qpu2', i: 4 }),
  ]
  for (const e of sent) await pub.publish(e)
  const got = await drain(sub, 0.3, { atLeast: 3 })
  t.deepEqual(got.map((e) => e.i), [0, 1, 3])
  t.true(got[2] instanceof KernelStatusChanged)
  t.is(sub.stats().subscriptions, 3)
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('subscribe() and unsubscribe() take effect while receiving', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'a' })
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Telemetry({ path: 'a', i: 1 }))
  t.is((await sub.get(5)).i, 1)
  sub.subscribe(Telemetry, { topic: 'b' })
  await subscribed(proxy, 2)
  // The proxy counts a subscription before its notice reaches an existing publisher, which
  // filters until then; a new publisher waits for the replayed subscriptions.
  const late = new j.PublisherAsync(proxy.frontend)
  await late.publish(new Telemetry({ path: 'b', i: 2 }))
  t.is((await sub.get(5)).i, 2)
  await late.close()
  t.true(sub.unsubscribe(Telemetry, { topic: 'a' }))
  t.false(sub.unsubscribe(Telemetry, { topic: 'never' }))
  await new Promise((r) => setTimeout(r, 200))
  await pub.publish(new Telemetry({ path: 'a', i: 3 }))
  await pub.publish(new Telemetry({ path: 'b', i: 4 }))
  t.deepEqual((await drain(sub)).map((e) => e.i), [4])
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('two classes with the same wire name cannot share a subscriber', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  const Other = class extends j.Event {
    static eventName = 'Telemetry'
  }
  const err = t.throws(() => sub.subscribe(Other))
  t.regex(err.message, /same type name "Telemetry"/)
  await sub.close()
  await proxy.close()
})

test('static eventName overrides the class name on the wire', async (t) => {
  const proxy = await startProxy()
  class Minified extends j.Event {
    static eventName = 'KernelStatusChanged'
  }
  t.is(j.eventTypeName(Minified), 'KernelStatusChanged')
  class Child extends Minified {}
  t.is(j.eventTypeName(Child), 'Child', 'eventName is not inherited')
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(KernelStatusChanged)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Minified({ status: 'idle' }))
  const got = await sub.get(5)
  t.true(got instanceof KernelStatusChanged)
  t.is(got.status, 'idle')
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('subscribeAll() receives every type; types without a class are counted and skipped', async (t) => {
  const proxy = await startProxy()
  class Unknown extends j.Event {}
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'only' }).subscribeAll()
  await subscribed(proxy, 2)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Unknown({ i: 0 }))
  await pub.publish(new Telemetry({ path: 'other', i: 1 }))
  await pub.publish(new Unknown({ i: 2 }))
  await pub.publish(new Telemetry({ path: 'only.x', i: 3 }))
  const got = await drain(sub, 0.3, { atLeast: 2 })
  t.deepEqual(got.map((e) => e.i), [1, 3], 'subscribeAll widens Telemetry past its topic filter')
  t.is(sub.stats().unknownType, 2)
  t.true(sub.unsubscribeAll())
  t.false(sub.unsubscribeAll())
  await pub.close()
  await sub.close()
  await proxy.close()
})

test('thousands of filters: none is lost when libzmq replays them to a new publisher', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend)
  // libzmq replays subscriptions in byte order; the one that matters sorts after 5,000 others,
  // past libzmq's default high-water mark of 1,000 messages.
  for (let i = 0; i < 5000; i++) sub.subscribe(Telemetry, { topic: `a${i}.x` })
  sub.subscribe(Telemetry, { topic: 'zz' })
  await subscribed(proxy, 5001)
  t.is(sub.stats().subscriptions, 5001)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Telemetry({ path: 'zz.last', i: 1 }))
  await pub.publish(new Telemetry({ path: 'a4999.x', i: 2 }))
  await pub.publish(new Telemetry({ path: 'a5000.x', i: 3 }))
  t.deepEqual((await drain(sub, 0.3, { atLeast: 2 })).map((e) => e.i), [1, 2])
  await pub.close()
  await sub.close()
  await proxy.close()
})
