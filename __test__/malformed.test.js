// Malformed input from a raw ZMQ peer (zeromq.js, not our code) is counted and skipped, and the
// subscriber keeps working.
'use strict'
const test = require('ava')
const zmq = require('zeromq')
const { j, startProxy, subscribed, until, drain, rawPub, subscriptionArrived, Telemetry } = require('./helpers')

test('every kind of malformed message is counted by kind and valid events still arrive', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend, { maxPayload: 1024 }).subscribe(Telemetry)
  await subscribed(proxy)
  const raw = await rawPub(proxy.frontend, 'Telemetry.') // a raw PUB has no slow-joiner guard
  const valid = (i) => ['Telemetry.ok.', JSON.stringify({ time: '2026-01-01T00:00:00.000001Z', i })]
  const bad = [
    ['Telemetry.'], // one frame
    ['Telemetry.', '{}', 'extra'], // three frames
    ['Telemetry.', ''], // empty payload frame: not JSON
    [Buffer.from([0x54, 0x65, 0x6c, 0x65, 0x6d, 0x65, 0x74, 0x72, 0x79, 0x2e, 0xff, 0x2e]), '{}'], // bad UTF-8 topic
    ['Telemetry.no-trailing-dot', '{}'], // topic without the trailing dot
    ['Telemetry.', Buffer.from([0x7b, 0xff, 0x7d])], // bad UTF-8 payload
    ['Telemetry.', 'not json'],
    ['Telemetry.', '[1,2,3]'], // JSON of the wrong shape
    ['Telemetry.', '{"time": "not a time"}'],
    ['Telemetry.', JSON.stringify({ pad: 'x'.repeat(2000) })], // above maxPayload
  ]
  let sent = 0
  for (let round = 0; round < 10; round++) {
    for (const m of bad) await raw.send(m)
    await raw.send(valid(round))
    sent++
  }
  const got = []
  while (got.length < sent) got.push(await sub.get(5))
  t.deepEqual(got.map((e) => e.i), [...Array(sent).keys()])
  await until(() => sub.stats().received === 110)
  const s = sub.stats()
  t.log(s)
  t.is(s.received, 110)
  t.is(s.malformedFrames, 20)
  t.is(s.malformedUtf8, 20)
  t.is(s.malformedTopic, 10)
  t.is(s.oversized, 10)
  t.is(s.malformedJson, 40)
  t.is(s.delivered, 50, 'JSON problems are found after delivery to JS, the rest before')
  t.is(s.malformedFrames + s.malformedUtf8 + s.malformedTopic + s.oversized + s.malformedJson, 100)
  raw.close()
  await sub.close()
  await proxy.close()
})

test('a blocking subscriber skips malformed JSON and returns the next good event', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberBlocking(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const raw = await rawPub(proxy.frontend, 'Telemetry.')
  await raw.send(['Telemetry.', '{oops'])
  await raw.send(['Telemetry.', '"a string"'])
  await raw.send(['Telemetry.', '{"i": 1}'])
  t.is(sub.get(5).i, 1)
  t.is(sub.stats().malformedJson, 2)
  raw.close()
  sub.close()
  await proxy.close()
})

test('a subscriber connected straight to a raw peer (no proxy) counts what it cannot read', async (t) => {
  const raw = new zmq.XPublisher()
  await raw.bind('tcp://127.0.0.1:*')
  const sub = new j.SubscriberAsync(raw.lastEndpoint).subscribe(Telemetry)
  await subscriptionArrived(raw, 'Telemetry.')
  await raw.send(['Telemetry.', '{"a":1}', 'x'])
  await raw.send(['Telemetry.', '{"a":2}'])
  t.is((await sub.get(5)).a, 2)
  t.is(sub.stats().malformedFrames, 1)
  t.deepEqual(await drain(sub, 0.1), [])
  raw.close()
  await sub.close()
})
