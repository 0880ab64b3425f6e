// Juice events over a real three-node NATS cluster (issue 19): the same classes and API as over
// ZeroMQ, with `nats://` URIs. Publishers and subscribers sit on different nodes, so every
// delivery crosses a route.
'use strict'
const test = require('ava')
const net = require('node:net')
const { j, Telemetry, drain } = require('./helpers')
const { startCluster } = require('./nats-cluster')

class Other extends j.Event {
  topic() {
    return this.path ?? null
  }
}

let cluster
test.before(async () => {
  cluster = await startCluster(3)
})
test.after.always(async () => {
  await cluster?.stop()
})

/** Publishes probes until `sub` receives one: NATS interest crosses routes asynchronously. */
async function ready(pub, sub, topic = 'probe') {
  for (let i = 0; i < 200; i++) {
    await pub.publish(new Telemetry({ path: topic, probe: i }))
    try {
      const e = await sub.get(0.05)
      if (e.probe !== undefined) {
        await drain(sub, 0.2)
        return
      }
    } catch (e) {
      if (!(e instanceof j.TimeoutError)) throw e
    }
  }
  throw new Error('no probe arrived over NATS within 10 s')
}

test('the Juice topic rule holds between nodes, for plain and awkward topics, each event once', async (t) => {
  const sub = new j.SubscriberAsync(cluster.url(0), { keepTopic: true })
    .subscribe(Telemetry, { topic: 'a.b' })
    .subscribe(Telemetry, { topic: 'a' }) // contains a.b: events under a.b must still come once
    .subscribe(Telemetry, { topic: 'probe' })
  const pub = new j.PublisherAsync(cluster.url(1))
  try {
    await ready(pub, sub)
    const topics = ['a.b', 'a.b.c', 'a.b.c.d', 'a', 'a.bb', 'ab', 'b.a.b', 'a.b. spaced', 'a.b.*', 'a.b.>', 'a.b.~7E', 'a.b.ünï', 'a.b..x', 'A.b']
    for (const [i, path] of topics.entries()) await pub.publish(new Telemetry({ path, i }))
    await pub.publish(new Other({ path: 'a.b', i: -1 }))
    const got = (await drain(sub, 1)).filter((e) => e.probe === undefined).map((e) => ({ topic: j.receivedTopic(e), i: e.i }))
    const want = topics.map((path, i) => ({ topic: path, i })).filter((x) => x.topic === 'a' || x.topic.startsWith('a.'))
    // NATS keeps order per subscription: a topic's own events and its subtopics' come through
    // two subscriptions (T.a and T.a.>), so only their set is fixed, and the order within each.
    const byI = (a, b) => a.i - b.i
    t.deepEqual([...got].sort(byI), want, 'each matching event once, under its own topic; none other')
    const deeper = got.filter((g) => g.topic !== 'a').map((g) => g.i)
    t.deepEqual(deeper, [...deeper].sort((a, b) => a - b), 'in order below the topic')
    const s = sub.stats()
    t.is(s.unmatched + s.malformedTopic + s.malformedUtf8 + s.malformedJson, 0)
    t.true(s.connected)
    t.true(pub.stats().connected)
  } finally {
    await pub.close()
    await sub.close()
  }
})

test('prefixes keep two systems apart on one cluster; blocking clients work the same', async (t) => {
  const lab1 = new j.SubscriberBlocking(cluster.url(2), { natsPrefix: 'lab1.juice' }).subscribe(Telemetry)
  const lab2 = new j.SubscriberAsync(cluster.url(0), { natsPrefix: 'lab2.juice' }).subscribe(Telemetry)
  const pub1 = new j.PublisherBlocking(cluster.url(1), { natsPrefix: 'lab1.juice' })
  const pub2 = new j.PublisherAsync(cluster.url(1), { natsPrefix: 'lab2.juice' })
  try {
    await ready(pub2, lab2)
    let got1
    for (let i = 0; i < 200 && got1 === undefined; i++) {
      pub1.publish(new Telemetry({ path: 'x', probe: i }))
      try {
        got1 = lab1.get(0.05)
      } catch (e) {
        if (!(e instanceof j.TimeoutError)) throw e
      }
    }
    t.truthy(got1, 'a blocking subscriber hears a blocking publisher')
    while (true) {
      try {
        lab1.get(0.2)
      } catch {
        break
      }
    }
    pub1.publish(new Telemetry({ path: 'x', lab: 1 }))
    await pub2.publish(new Telemetry({ path: 'x', lab: 2 }))
    t.is(lab1.get(5).lab, 1)
    t.deepEqual((await drain(lab2, 0.5)).map((e) => e.lab), [2])
    t.throws(() => lab1.get(0.3), { instanceOf: j.TimeoutError }, 'lab 2 stays out of lab 1')
  } finally {
    pub1.close()
    await pub2.close()
    lab1.close()
    await lab2.close()
  }
})

test('what NATS cannot carry is refused at publish() with an error naming the limit; bad options name the problem', async (t) => {
  const pub = new j.PublisherAsync(cluster.url(0))
  try {
    await t.throwsAsync(pub.publish(new Telemetry({ path: 'big', blob: 'x'.repeat(1100 << 10) })), { message: /max_payload of 1048576 bytes/ })
    t.is(pub.stats().sent, 0)
  } finally {
    await pub.close()
  }
  t.throws(() => new j.PublisherAsync('nats://127.0.0.1:1,tcp://127.0.0.1:2'), { message: /not a nats:\/\/ .*URI/ })
  t.throws(() => new j.SubscriberAsync(cluster.url(0), { natsPrefix: 'a..b' }), { message: /empty token/ })
  t.throws(() => new j.SubscriberAsync(cluster.url(0), { natsPrefix: 5 }), { message: /natsPrefix must be a string/ })
})

/** A raw NATS text-protocol publisher, to send what our publisher never would. */
async function rawPublish(url, messages) {
  const { port } = new URL(url)
  const sock = net.connect(Number(port), '127.0.0.1')
  await new Promise((r, e) => sock.once('connect', r).once('error', e))
  sock.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
  for (const [subject, payload] of messages) {
    const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload)
    sock.write(Buffer.concat([Buffer.from(`PUB ${subject} ${body.length}\r\n`), body, Buffer.from('\r\n')]))
  }
  sock.write('PING\r\n')
  await new Promise((r) => sock.on('data', (d) => d.includes('PONG') && r()))
  sock.end()
}

test('malformed subjects and payloads from NATS are counted by kind and skipped; good events still arrive', async (t) => {
  // Its own prefix: subscribeAll() would otherwise hear the other tests' events.
  const natsPrefix = 'malformed.juice'
  const sub = new j.SubscriberAsync(cluster.url(0), { natsPrefix }).subscribeAll().subscribe(Telemetry)
  const pub = new j.PublisherAsync(cluster.url(2), { natsPrefix })
  try {
    await ready(pub, sub)
    await rawPublish(cluster.url(2), [
      ['malformed.juice.Telemetry.a~zz', '{"n":1}'], // not an escape we write
      ['malformed.juice.Telemetry.~2E', '{"n":2}'], // an escaped dot
      ['malformed.juice.Telemetry.~61', '{"n":3}'], // an escaped plain letter: a second spelling of "a"
      ['malformed.juice.Telemetry.x', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])], // payload not UTF-8
      ['malformed.juice.Telemetry.x', 'not json'],
      ['malformed.juice.Telemetry.x', '[1,2]'],
      ['malformed.juice.Telemetry.ok', '{"ok":true}'],
    ])
    const got = (await drain(sub, 1)).filter((e) => e.probe === undefined)
    t.deepEqual(got.map((e) => e.ok), [true])
    const s = sub.stats()
    t.is(s.malformedTopic, 3)
    t.is(s.malformedUtf8, 1)
    t.is(s.malformedJson, 2)
  } finally {
    await pub.close()
    await sub.close()
  }
})

test.serial('a node killed mid-stream: clients reconnect to the others, report it, and every event after recovery arrives in order', async (t) => {
  // The subscriber knows only node 0 and learns the others from the cluster; the publisher sits
  // on node 1. Node 0 is killed while events flow.
  const sub = new j.SubscriberAsync(cluster.url(0), { maxQueue: 1_000_000 }).subscribe(Telemetry, { topic: 'kill' }).subscribe(Telemetry, { topic: 'probe' })
  const pub = new j.PublisherAsync(cluster.url(1))
  const seen = []
  const states = []
  let stop = false
  await ready(pub, sub)
  const reader = (async () => {
    while (!stop || sub.stats().queued > 0) {
      try {
        const e = await sub.get(0.1)
        if (e.seq !== undefined) seen.push({ seq: e.seq, at: Date.now() })
      } catch (e) {
        if (!(e instanceof j.TimeoutError)) throw e
      }
      const c = sub.stats().connected
      if (states.at(-1) !== c) states.push(c)
    }
  })()
  try {
    const published = []
    let killedAt = 0
    const t0 = Date.now()
    for (let seq = 0; Date.now() - t0 < 6000; seq++) {
      await pub.publish(new Telemetry({ path: 'kill', seq }))
      published.push(Date.now())
      if (killedAt === 0 && Date.now() - t0 > 1500) {
        await cluster.kill(0)
        killedAt = Date.now()
      }
      await new Promise((r) => setTimeout(r, 2))
    }
    const last = published.length - 1
    const end = Date.now() + 10_000
    while (Date.now() < end && seen.at(-1)?.seq !== last) await new Promise((r) => setTimeout(r, 20))
    stop = true
    await reader
    const seqs = seen.map((s) => s.seq)
    const firstAfter = seen.find((s) => s.at > killedAt && published[s.seq] > killedAt)
    const recoverMs = firstAfter ? published[firstAfter.seq] - killedAt : NaN
    const lost = published.length - new Set(seqs).size
    t.log(`published ${published.length}, delivered ${seqs.length}, lost ${lost} (core NATS: at most once); first event after the kill published ${recoverMs} ms after it; subscriber states ${JSON.stringify(states)}`)
    t.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order')
    t.is(new Set(seqs).size, seqs.length, 'no duplicates')
    t.is(seqs.at(-1), last, 'the last event arrived')
    // The loss is reported while it lasts; a reconnect within a few ms can fall between samples.
    t.true(states.at(-1) === true, 'connected again')
    // Everything published once the subscriber was back arrives.
    const back = firstAfter.seq
    t.deepEqual(seqs.filter((s) => s >= back), Array.from({ length: last - back + 1 }, (_, i) => back + i))
    t.true(recoverMs < 10_000, `recovered within the client's reconnect window (${recoverMs} ms)`)
  } finally {
    stop = true
    await reader.catch(() => {})
    await pub.close()
    await sub.close()
    await cluster.restart(0)
  }
})

test.serial('300 NATS publisher and subscriber create-use-close cycles leak no descriptors or threads', async (t) => {
  const fs = require('node:fs')
  const fds = () => fs.readdirSync('/proc/self/fd').length
  const threads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1])
  // The first client starts the process's NATS runtime thread, which stays.
  const warm = new j.PublisherAsync(cluster.url(0))
  await warm.close()
  await new Promise((r) => setTimeout(r, 300))
  const [f0, t0] = [fds(), threads()]
  for (let i = 0; i < 300; i++) {
    const s = new j.SubscriberAsync(cluster.url(i % 3)).subscribe(Telemetry, { topic: 'leak' })
    const p = new j.PublisherAsync(cluster.url((i + 1) % 3))
    await p.publish(new Telemetry({ path: 'elsewhere' }))
    await p.close()
    await s.close()
  }
  await new Promise((r) => setTimeout(r, 500))
  t.log(`fds ${f0} -> ${fds()}, threads ${t0} -> ${threads()}`)
  t.true(fds() <= f0, 'every connection closed')
  t.true(threads() <= t0, 'no thread left behind')
})

test.serial('JetStream: an R3 stream keeps every event of a publisher whose node, the stream leader, is SIGKILLed mid-stream, each once', async (t) => {
  const name = 'KILLTEST'
  const natsPrefix = 'js.juice'
  const created = await j.ensureStream(cluster.url(0), { name, types: [Telemetry], replicas: 3, natsPrefix })
  t.deepEqual(created.subjects.sort(), ['js.juice.Telemetry', 'js.juice.Telemetry.>'])
  t.is(created.replicas, 3)
  // Creating it again with the same subjects is a no-op; other subjects are refused.
  t.is((await j.ensureStream(cluster.url(1), { name, types: [Telemetry], replicas: 3, natsPrefix })).name, name)
  await t.throwsAsync(j.ensureStream(cluster.url(1), { name, types: ['Other'], replicas: 3, natsPrefix }), { message: /exists with subjects/ })

  // The worst node to lose: the one leading the stream, with the publisher connected to it. The
  // publisher knows that node only and learns the others from the cluster; until the others
  // elect a leader nothing answers the subject, which the client reports as "no stream".
  let leader = -1
  for (const end = Date.now() + 10_000; leader < 0 && Date.now() < end; ) {
    leader = await cluster.streamLeader(name)
    if (leader < 0) await new Promise((r) => setTimeout(r, 100))
  }
  if (leader < 0) return t.fail('the stream has no leader after 10 s')
  const [other, third] = [(leader + 1) % 3, (leader + 2) % 3]
  const pub = new j.PublisherAsync(cluster.url(leader), { jetstream: true, natsPrefix, linger: 60 })
  const N = 3000
  let killedAt = -1
  try {
    for (let seq = 0; seq < N; seq++) {
      await pub.publish(new Telemetry({ path: `qpu${seq % 3}`, seq }))
      if (seq === 1000) {
        await cluster.kill(leader)
        killedAt = seq
      }
      if (seq % 100 === 0) await new Promise((r) => setTimeout(r, 5))
    }
    await pub.close()
    const s = pub.stats()
    const info = await j.streamInfo(cluster.url(other), name)
    t.log(`published ${N}, node ${leader} (the stream leader) SIGKILLed after event ${killedAt}; stored ${s.stored}, not stored ${s.notStored}; the stream holds ${info.messages}; ${JSON.stringify(s)}`)
    t.is(s.notStored, 0)
    t.is(s.stored, N, 'every event acknowledged')
    t.true(s.resent > 0, 'the kill made the publisher send events again')
    t.is(pub.handshakeError(), undefined, 'once every repeat was stored, no failure is reported')
    t.is(info.messages, N, 'the stream holds each event once: nothing lost, no repeat stored twice')
    const last = await j.lastValue(cluster.url(third), name, Telemetry, 'qpu2', { natsPrefix })
    // The last *stored* under qpu2: an event republished after the failover is stored then, so
    // it may be older than the last one published.
    t.true(last instanceof Telemetry)
    t.is(last.seq % 3, 2, `an event of qpu2 (seq ${last.seq})`)
    t.is(await j.lastValue(cluster.url(third), name, Telemetry, 'nothing.here', { natsPrefix }), undefined)
  } finally {
    await pub.close()
    // Only a node that was killed is started again (a second server on its ports would fail).
    if (killedAt >= 0) await cluster.restart(leader)
  }
})

test.serial('a durable subscriber reads every stored event across a SIGKILL of the stream leader it is connected to', async (t) => {
  const name = 'DURKILL'
  const natsPrefix = 'dk.juice'
  await j.ensureStream(cluster.url(0), { name, types: [Telemetry], replicas: 3, natsPrefix })
  let leader = -1
  for (const end = Date.now() + 10_000; leader < 0 && Date.now() < end; ) {
    leader = await cluster.streamLeader(name)
    if (leader < 0) await new Promise((r) => setTimeout(r, 100))
  }
  if (leader < 0) return t.fail('the stream has no leader after 10 s')
  const N = 2000
  const pub = new j.PublisherAsync(cluster.url((leader + 1) % 3), { jetstream: true, natsPrefix })
  try {
    for (let seq = 0; seq < N; seq++) await pub.publish(new Telemetry({ path: 'fridge', seq }))
  } finally {
    await pub.close()
  }
  t.is(pub.stats().stored, N)
  // Events in flight to the dead node come again once their ackWait runs out: 5 s here.
  const ackWait = 5
  const sub = new j.SubscriberAsync(cluster.url(leader), { natsPrefix, stream: name, durable: 'reader', ackWait }).subscribe(Telemetry)
  const seen = new Set()
  let taken = 0
  let killedAfter = -1
  let longestWait = 0
  try {
    while (seen.size < N) {
      let ev
      const asked = Date.now()
      try {
        ev = await sub.get(ackWait + 30) // seconds
      } catch (e) {
        t.log(`stalled after ${taken} taken (${seen.size} distinct), node ${leader} killed after ${killedAfter}: ${sub.handshakeError() ?? 'no reason given'}; ${JSON.stringify(sub.stats())}`)
        throw e
      }
      taken++
      longestWait = Math.max(longestWait, Date.now() - asked)
      seen.add(ev.seq)
      if (taken === 500) {
        await cluster.kill(leader)
        killedAfter = taken
      }
    }
    t.log(`${N} stored; node ${leader} (stream leader, the subscriber's server) SIGKILLed after ${killedAfter} taken; longest wait for an event ${longestWait} ms; ${seen.size} distinct events taken in ${taken} gets (at least once: ${taken - seen.size} again); last reason: ${sub.handshakeError() ?? 'none'}`)
    t.is(seen.size, N, 'every stored event arrived')
    // Redelivery comes after ackWait (twice at worst: a pull lost in the election too), plus
    // the reconnect, the election and the pull's heartbeat: 0.25-13 s measured on a quiet
    // machine, more on a loaded one. The client's default pulls (30 s, 15 s heartbeats) would
    // stall past get()'s limit instead.
    t.true(longestWait < (2 * ackWait + 15) * 1000, `no wait far beyond ackWait (${longestWait} ms)`)
  } finally {
    await sub.close()
    if (killedAfter >= 0) await cluster.restart(leader)
  }
})

test('JetStream: a last-value stream keeps one event per topic; a JetStream publisher without a stream is told so', async (t) => {
  const natsPrefix = 'lv.juice'
  await j.ensureStream(cluster.url(0), { name: 'LASTVALUE', types: [Telemetry], replicas: 3, lastValueOnly: true, natsPrefix })
  const pub = new j.PublisherAsync(cluster.url(2), { jetstream: true, natsPrefix })
  for (let i = 0; i < 50; i++) await pub.publish(new Telemetry({ path: `fridge${i % 5}`, i }))
  await pub.close()
  t.is(pub.stats().stored, 50)
  t.is((await j.streamInfo(cluster.url(1), 'LASTVALUE')).messages, 5)
  t.is((await j.lastValue(cluster.url(1), 'LASTVALUE', Telemetry, 'fridge3', { natsPrefix })).i, 48)

  const orphan = new j.PublisherAsync(cluster.url(0), { jetstream: true, natsPrefix: 'nostream.juice', linger: 2 })
  await orphan.publish(new Telemetry({ path: 'x' }))
  await orphan.close()
  t.is(orphan.stats().stored, 0)
  t.is(orphan.stats().notStored, 1, 'not stored, and counted')
  t.regex(orphan.handshakeError() ?? '', /no JetStream stream captures nostream\.juice\.Telemetry\.x; create one with ensureStream\(\)/)
  t.throws(() => new j.PublisherAsync('tcp://127.0.0.1:1', { jetstream: true }), { message: /jetstream needs a nats:\/\/ URI/ })
})
