// A flood of malformed messages from a raw ZMQ peer (zeromq.js), interleaved with valid events,
// through the proxy: everything valid arrives, everything else is counted by kind, nothing crashes.
'use strict'
const test = require('ava')
const { j, startProxy, subscribed, until, rawPub, Telemetry } = require('./helpers')

test('100,000 malformed messages: every valid event delivered, every malformed one counted', async (t) => {
  const proxy = await startProxy({ sndHwm: 0, rcvHwm: 0 })
  const sub = new j.SubscriberAsync(proxy.backend, { rcvHwm: 0, maxQueue: 1_000_000 }).subscribe(Telemetry).subscribeAll()
  await subscribed(proxy, 2)
  // "" (subscribeAll) passes every message here, valid or not.
  const raw = await rawPub(proxy.frontend, '', { sendHighWaterMark: 0 })

  const deep = '{"a":' + '['.repeat(5000) // unterminated, 5,000 levels deep
  const badUtf8Topic = Buffer.from([...Buffer.from('Telemetry.'), 0xc3, 0x28, 0x2e])
  const kinds = [
    { expect: 'malformedFrames', msg: ['Telemetry.'] },
    { expect: 'malformedFrames', msg: ['Telemetry.', '{}', '{}'] },
    { expect: 'malformedFrames', msg: [''] },
    { expect: 'malformedTopic', msg: ['', ''] },
    { expect: 'malformedTopic', msg: ['Telemetry', '{}'] },
    { expect: 'malformedUtf8', msg: [badUtf8Topic, '{}'] },
    { expect: 'malformedUtf8', msg: ['Telemetry.', Buffer.from([0xff, 0xfe])] },
    { expect: 'malformedJson', msg: ['Telemetry.', ''] },
    { expect: 'malformedJson', msg: ['Telemetry.', 'not json'] },
    { expect: 'malformedJson', msg: ['Telemetry.', '[1,2]'] },
    { expect: 'malformedJson', msg: ['Telemetry.', 'null'] },
    { expect: 'malformedJson', msg: ['Telemetry.', '{"time":"never"}'] },
    { expect: 'malformedJson', msg: ['Telemetry.', deep] },
    { expect: 'unknownType', msg: ['NoSuchType.x.', '{}'] },
  ]
  const expected = {}
  const total = Number(process.env.FUZZ_N ?? 100_000)
  let valid = 0
  for (let i = 0; i < total; i++) {
    const k = kinds[i % kinds.length]
    expected[k.expect] = (expected[k.expect] ?? 0) + 1
    await raw.send(k.msg)
    if (i % 10 === 0) await raw.send(['Telemetry.ok.', JSON.stringify({ v: valid++ })])
  }
  // One 64 MiB payload (not JSON), which the proxy forwards and the subscriber counts.
  await raw.send(['Telemetry.', Buffer.alloc(64 << 20, 0x78)])
  expected.malformedJson++
  await raw.send(['Telemetry.ok.', JSON.stringify({ v: valid++ })])

  const got = []
  try { while (got.length < valid) got.push((await sub.get(30)).v) } catch (e) { t.log({ got: got.length, valid, stats: sub.stats(), proxy: proxy.stats() }); throw e }
  const counted = () => {
    const s = sub.stats()
    return Object.keys(expected).every((k) => s[k] === expected[k])
  }
  await until(counted, 30_000)
  const s = sub.stats()
  t.log({ sent: { malformed: total + 1, valid }, stats: s })
  t.deepEqual(got, [...Array(valid).keys()], 'every valid event, in order')
  for (const [k, v] of Object.entries(expected)) t.is(s[k], v, k)
  t.is(s.dropped, 0)
  t.is(proxy.stats().messages, total + valid + 1)
  raw.close()
  await sub.close()
  await proxy.close()
})

test('a message above the proxy maximum disconnects only its sender; the proxy and others go on', async (t) => {
  const proxy = await startProxy({ maxMessageSize: 1 << 20 })
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy)
  const raw = await rawPub(proxy.frontend, 'Telemetry.')
  await raw.send(['Telemetry.', Buffer.alloc(2 << 20, 0x78)])
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Telemetry({ ok: true }))
  t.true((await sub.get(5)).ok)
  t.is(proxy.stats().messages, 1, 'the oversized message was refused')
  raw.close()
  await pub.close()
  await sub.close()
  await proxy.close()
})
