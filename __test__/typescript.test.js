// TypeScript-first: the type tests in __test__/types (tsc, strict, nodenext; `@ts-expect-error`
// lines must fail to compile), and the run-time guards for what types cannot catch: a class
// field that wipes constructor data, and a topic() that returns undefined.
'use strict'
const test = require('ava')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { j, startProxy, subscribed } = require('./helpers')

const root = path.join(__dirname, '..')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')

test('type tests: subscribe() narrows get() and for await to the subscribed classes; Event.define and Task.define type data', (t) => {
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], { encoding: 'utf8' })
  t.is(r.status, 0, r.stdout + r.stderr)
})

test('a field declared in the class body that wipes constructor data is an error at publish, saying how to fix it', async (t) => {
  const proxy = await startProxy()
  // `service;` is what `service!: string` compiles to under useDefineForClassFields (ES2022).
  class Trapped extends j.Event {
    service
    topic() {
      return this.service
    }
  }
  const pub = new j.PublisherAsync(proxy.frontend, { subscriptionWait: 0 })
  const ev = new Trapped({ service: 'q1' })
  t.is(ev.service, undefined, 'the trap: the field initializer ran after the constructor')
  await t.throwsAsync(pub.publish(ev), {
    instanceOf: TypeError,
    message: /Trapped\.service was given to the constructor, then reset to undefined .* Write `declare service: T` instead/,
  })
  // A topic() that returns undefined is refused, not sent as "no topic".
  class NoTopic extends j.Event {
    topic() {
      return this.missing
    }
  }
  await t.throwsAsync(pub.publish(new NoTopic({ x: 1 })), { instanceOf: TypeError, message: /NoTopic\.topic\(\) returned undefined/ })
  const blocking = new j.PublisherBlocking(proxy.frontend, { subscriptionWait: 0 })
  t.throws(() => blocking.publish(new Trapped({ service: 'q2' })), { instanceOf: TypeError, message: /declare service/ })
  blocking.close()
  t.is(pub.stats().published, 0)
  await pub.close()
  await proxy.close()
})

test('Event.define() is Event itself at run time: its subclasses publish, receive and store like any event', async (t) => {
  t.is(j.Event.define(), j.Event)
  class KernelStatusChanged extends j.Event.define() {
    static measurement = 'kernel'
    topic() {
      return this.service
    }
  }
  const proxy = await startProxy()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(KernelStatusChanged, { topic: 'q1' })
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  const sent = new KernelStatusChanged({ service: 'q1', status: 'busy' })
  await pub.publish(sent)
  const ev = await sub.get(5)
  t.true(ev instanceof KernelStatusChanged)
  t.like(ev, { service: 'q1', status: 'busy' })
  t.regex(sent.toLineProtocol(), /^kernel service="q1",status="busy" \d+$/)
  await Promise.all([pub.close(), sub.close(), proxy.close()])
})
