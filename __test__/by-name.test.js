// Events by type name, without a class: eventClass(), subscribe('Name'), subscribeAll({ anyType }),
// receivedTopic() with keepTopic, and validateTypeName(); and the rule that the CLI is built only
// on the public API (what it needed became these functions).
'use strict'
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { j, startProxy, subscribed, drain } = require('./helpers')

class KernelStatusChanged extends j.Event {
  topic() {
    return this.service
  }
}
class Note extends j.Event {}

test('subscribing by type name: events decode as eventClass(name), with the topic they arrived under', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend, { keepTopic: true }).subscribe('KernelStatusChanged', { topic: 'q1' })
  const plain = new j.SubscriberAsync(proxy.backend).subscribe('KernelStatusChanged')
  await subscribed(proxy, 2)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new KernelStatusChanged({ service: 'q1.kernel', status: 'busy' }))
  await pub.publish(new KernelStatusChanged({ service: 'q2', status: 'idle' }))
  const ev = await sub.get(5)
  t.true(ev instanceof j.Event)
  t.false(ev instanceof KernelStatusChanged, 'a class made from the name, not the sender class')
  t.is(ev.constructor, j.eventClass('KernelStatusChanged'), 'one class per name')
  t.is(j.eventTypeName(ev.constructor), 'KernelStatusChanged')
  t.like(ev, { service: 'q1.kernel', status: 'busy' })
  t.is(j.receivedTopic(ev), 'q1.kernel')
  t.deepEqual(Object.keys(JSON.parse(JSON.stringify(ev))).sort(), ['service', 'status', 'time'], 'the kept topic is not a field')
  const both = await drain(plain, 0.3, { atLeast: 2 })
  t.is(both.length, 2)
  t.is(j.receivedTopic(both[0]), undefined, 'without keepTopic nothing is kept')
  await Promise.all([pub.close(), sub.close(), plain.close(), proxy.close()])
})

test('subscribeAll({ anyType: true }) decodes every type; without it types without a class are skipped and counted', async (t) => {
  const proxy = await startProxy()
  const some = new j.SubscriberAsync(proxy.backend).subscribeAll()
  await subscribed(proxy, 1)
  // The proxy counts distinct prefixes: "" (everything) once, then "Note." after it on this connection.
  const any = new j.SubscriberAsync(proxy.backend, { keepTopic: true }).subscribeAll({ anyType: true }).subscribe(Note)
  await subscribed(proxy, 2)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Note({ text: 'declared here' }))
  await pub.publish(new KernelStatusChanged({ service: 'q3', status: 'dead' }))
  const got = await drain(any, 0.3, { atLeast: 2 })
  t.is(got.length, 2)
  t.true(got[0] instanceof Note, 'a subscribed class still decodes to itself')
  t.is(j.eventTypeName(got[1].constructor), 'KernelStatusChanged')
  t.is(j.receivedTopic(got[1]), 'q3')
  t.is(j.receivedTopic(got[0]), null, 'an event without a topic')
  t.is(any.stats().unknownType, 0)
  t.is((await drain(some)).length, 0)
  t.is(some.stats().unknownType, 2)
  t.throws(() => some.subscribeAll({ anyType: 'yes' }), { instanceOf: TypeError, message: /anyType/ })
  await Promise.all([pub.close(), any.close(), some.close(), proxy.close()])
})

test('eventClass() events can be published; validateTypeName() names what is wrong', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Note)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  const Generic = j.eventClass('Note')
  await pub.publish(new Generic({ text: 'by name' }))
  const ev = await sub.get(5)
  t.true(ev instanceof Note)
  t.is(ev.text, 'by name')
  t.notThrows(() => j.validateTypeName('KernelStatusChanged'))
  t.throws(() => j.validateTypeName(''), { instanceOf: TypeError, message: /empty/ })
  t.throws(() => j.validateTypeName('a.b'), { instanceOf: TypeError, message: /'\.'/ })
  t.throws(() => j.validateTypeName('x'.repeat(300)), { instanceOf: TypeError, message: /256 bytes/ })
  t.throws(() => j.validateTypeName(42), { instanceOf: TypeError, message: /string/ })
  t.throws(() => j.eventClass('a.b'), { instanceOf: TypeError })
  t.throws(() => new j.SubscriberAsync(proxy.backend).subscribe('no.dots'), { instanceOf: TypeError })
  await Promise.all([pub.close(), sub.close(), proxy.close()])
})

test('the CLI imports only the public API (src/index.ts), its own modules and Node built-ins', (t) => {
  const dir = path.join(__dirname, '..', 'src', 'cli')
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))
  t.true(files.length >= 8)
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8')
    const specs = [...text.matchAll(/(?:from\s+|require\()\s*'([^']+)'/g)].map((m) => m[1])
    for (const s of specs) {
      const allowed = s === '../index' || s === '../../package.json' || s.startsWith('node:') || /^\.\/[\w-]+$/.test(s)
      t.true(allowed, `src/cli/${f} imports '${s}'`)
    }
  }
})

test('sendFrame() relays a pre-serialised message verbatim, as upstream send_frame; bad frames are TypeErrors', async (t) => {
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend, { keepTopic: true }).subscribe('KernelStatusChanged', { topic: 'q1' }).subscribe(Note)
  await subscribed(proxy, 2)
  const pub = new j.PublisherAsync(proxy.frontend)
  // Microseconds and key order as pydantic writes them: the relay must not touch them.
  const json = '{"service":"q1.k","status":"busy","time":"2026-11-30T08:00:00.123456Z"}'
  await pub.sendFrame(['KernelStatusChanged.q1.k.', Buffer.from(json)])
  await pub.sendFrame(['Note.', '{"text":"no topic","time":"2026-11-30T08:00:01.000001Z"}'])
  const a = await sub.get(5)
  t.is(JSON.stringify(a), json, 'the same JSON comes out')
  t.is(j.receivedTopic(a), 'q1.k')
  const b = await sub.get(5)
  t.true(b instanceof Note)
  t.is(j.receivedTopic(b), null)
  t.is(pub.stats().published, 2)
  const bad = [
    [['KernelStatusChanged.q1'], /\[topic frame, payload\], got 1 frames/],
    [['KernelStatusChanged.q1', '{}'], /is not "Type." or "Type.topic."/],
    [['.q1.', '{}'], /is not "Type." or "Type.topic."/],
    [['A.' + 'x'.repeat(2000) + '.', '{}'], /topic is 2000 bytes/],
    [['Note.', Buffer.from([0xff, 0xfe])], /payload is not valid UTF-8/],
    [['Note.', 42], /payload must be a string or bytes, got number/],
    ['Note.', /got string/],
  ]
  for (const [frame, msg] of bad) await t.throwsAsync(pub.sendFrame(frame), { instanceOf: TypeError, message: msg }, String(msg))
  const blocking = new j.PublisherBlocking(proxy.frontend)
  blocking.sendFrame(['Note.', '{"text":"blocking"}'])
  t.is((await sub.get(5)).text, 'blocking')
  t.throws(() => blocking.sendFrame(['Note', '{}']), { instanceOf: TypeError })
  blocking.close()
  await Promise.all([pub.close(), sub.close(), proxy.close()])
})
