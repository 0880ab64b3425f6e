// Faults: a proxy killed and restarted, a subscriber process killed or frozen, and the opt-in
// lossless mode. Each test prints what was sent, received and counted.
'use strict'
const test = require('ava')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { j, startProxy, subscribed, until, freePort, Telemetry } = require('./helpers')

const fixtures = path.join(__dirname, 'fixtures')
const pause = (ms) => new Promise((r) => setTimeout(r, ms))

/** A child Node process whose stdout lines are JSON. */
function child(script, args) {
  const p = spawn(process.execPath, [path.join(fixtures, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = []
  readline.createInterface({ input: p.stdout }).on('line', (l) => lines.push(JSON.parse(l)))
  return {
    p,
    lines,
    last: (key) => [...lines].reverse().find((l) => l[key] !== undefined)?.[key],
    ready: () => until(() => lines.some((l) => l.ready), 10_000),
    kill: (sig = 'SIGKILL') => p.kill(sig),
    exited: () => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r))),
  }
}

test.serial('proxy killed with SIGKILL and restarted: clients reconnect, resubscribe, and nothing is lost silently', async (t) => {
  const front = `tcp://127.0.0.1:${await freePort()}`
  const back = `tcp://127.0.0.1:${await freePort()}`
  let proxy = child('proxy-child.js', [front, back])
  await proxy.ready()
  const subA = new j.SubscriberAsync(back).subscribe(Telemetry)
  const subB = new j.SubscriberBlocking(back).subscribe(Telemetry)
  const pubA = new j.PublisherAsync(front)
  const pubB = new j.PublisherBlocking(front)
  const seen = { a: new Set(), b: new Set() }
  const drainSubs = async () => {
    for (;;) {
      let any = false
      for (;;) {
        try {
          seen.a.add((await subA.get(0.05)).id)
          any = true
        } catch (e) {
          if (!(e instanceof j.TimeoutError)) throw e
          break
        }
      }
      for (;;) {
        try {
          seen.b.add(subB.get(0).id)
          any = true
        } catch (e) {
          if (!(e instanceof j.TimeoutError)) throw e
          break
        }
      }
      if (!any) return
    }
  }
  /** Drains until `done()` holds or 10 s passed: one pause is no proof that all has arrived. */
  const drainUntil = async (done) => {
    const end = Date.now() + 10_000
    do {
      await pause(20)
      await drainSubs()
    } while (!done() && Date.now() < end)
  }
  const count = (k, tag) => [...seen[k]].filter((id) => id.startsWith(`A${tag}-`) || id.startsWith(`B${tag}-`)).length
  let n = 0
  const send = async (tag) => {
    const id = `${tag}-${n++}`
    await pubA.publish(new Telemetry({ id: 'A' + id }))
    pubB.publish(new Telemetry({ id: 'B' + id }))
    return id
  }
  // Warm-up: subA and subB share one prefix, so a publisher may become ready on the first one's
  // subscription alone. Probe until both subscribers hear both publishers.
  const warmEnd = Date.now() + 10_000
  let warm = false
  while (!warm && Date.now() < warmEnd) {
    await send('warm')
    await pause(20)
    await drainSubs()
    warm = ['a', 'b'].every((k) => [...seen[k]].some((id) => id.startsWith('Awarm-')) && [...seen[k]].some((id) => id.startsWith('Bwarm-')))
  }
  t.true(warm, 'both subscribers hear both publishers')
  // Phase 1: steady flow.
  for (let i = 0; i < 200; i++) await send('up')
  await drainUntil(() => count('a', 'up') === 400 && count('b', 'up') === 400)
  t.is(count('a', 'up'), 400)
  t.is(count('b', 'up'), 400)

  // Phase 2: kill the proxy, publish while it is down.
  proxy.kill()
  await proxy.exited()
  await pause(300)
  const before = { a: pubA.stats(), b: pubB.stats() }
  const down = []
  for (let i = 0; i < 100; i++) down.push(await send('down'))
  pubB.flush()
  await pause(50)
  const during = { a: pubA.stats(), b: pubB.stats() }

  // Phase 3: restart on the same endpoints; events must flow again within 5 s (reconnect, handshakes
  // and resubscription, on a loaded machine; the time is logged).
  proxy = child('proxy-child.js', [front, back])
  await proxy.ready()
  const restarted = Date.now()
  let flowing = false
  while (!flowing && Date.now() - restarted < 15_000) {
    const id = await send('probe')
    await pause(20)
    await drainSubs()
    flowing = seen.a.has('A' + id) && seen.b.has('B' + id)
  }
  const recovery = Date.now() - restarted
  t.true(flowing, 'events flow again after the restart')
  t.true(recovery < 5000, `events flowed again ${recovery} ms after the restart`)

  for (let i = 0; i < 200; i++) await send('after')
  await pubA.close()
  pubB.close()
  await drainUntil(() => count('a', 'after') === 400 && count('b', 'after') === 400)

  for (const [k, pub] of [['a', 'A'], ['b', 'B']]) {
    const delivered = down.filter((id) => seen[k].has(pub + id)).length
    const unrouted = during[k].unrouted - before[k].unrouted
    t.log(`${pub}: published while down ${down.length}, delivered ${delivered}, counted unrouted ${unrouted}, recovery ${recovery} ms`)
    t.is(delivered + unrouted, down.length, 'every event published while the proxy was down is delivered or counted')
    const after = [...seen[k]].filter((id) => id.startsWith(pub + 'after')).length
    t.is(after, 200, 'everything published after recovery arrives')
  }
  await subA.close()
  subB.close()
  proxy.kill()
  await proxy.exited()
})

test.serial('a subscriber process killed mid-stream leaves the proxy and other subscribers unaffected', async (t) => {
  const proxy = await startProxy()
  // Ours first: the child's subscription has the same prefix, so once the child is counted ours
  // might not be attached yet.
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  await subscribed(proxy, 1)
  const other = child('sub-child.js', [proxy.backend])
  await other.ready()
  const pub = new j.PublisherAsync(proxy.frontend)
  const n = 20_000
  for (let i = 0; i < n; i++) {
    if (i === n / 2) other.kill()
    await pub.publish(new Telemetry({ i }))
  }
  await pub.close()
  let got = 0
  for (; got < n; got++) await sub.get(10)
  t.log(`sent ${n}, received ${got}, the killed subscriber had ${other.last('got') ?? 0}`)
  t.is(got, n)
  t.is(sub.stats().dropped, 0)
  t.is(proxy.stats().messages, n)
  await sub.close()
  await proxy.close()
})

test.serial('a frozen subscriber process (SIGSTOP) never stalls the proxy or the other subscribers', async (t) => {
  const proxy = await startProxy()
  const frozen = child('sub-child.js', [proxy.backend])
  await frozen.ready()
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry)
  const pub = new j.PublisherAsync(proxy.frontend)
  // Warm up until both subscribers are receiving, then freeze one.
  for (let warm = false; !warm; ) {
    await pub.publish(new Telemetry({ i: -1 }))
    await pause(20)
    warm = (await sub.get(0.05).then(() => true, () => false)) && frozen.last('got') > 0
  }
  while (await sub.get(0.1).then(() => true, () => false));
  frozen.kill('SIGSTOP')
  // More than the frozen subscriber's pipe at the proxy holds (sndHwm 100,000), so the proxy has
  // to drop for it, and must go on serving the other one at full speed.
  const n = 250_000
  const t0 = Date.now()
  const consumer = (async () => {
    let got = 0
    for (; got < n; got++) await sub.get(20)
    return got
  })()
  for (let i = 0; i < n; i++) {
    await pub.publish(new Telemetry({ i }))
    // Publisher and consumer share this thread: give the consumer its turns.
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r))
  }
  await pub.close()
  const got = await consumer
  const ms = Date.now() - t0
  t.log(`sent ${n}, fast subscriber received ${got} in ${ms} ms (${Math.round((got / ms) * 1000)}/s) while the other was frozen`)
  t.is(got, n)
  t.is(sub.stats().dropped, 0)
  frozen.kill('SIGCONT')
  frozen.kill()
  await sub.close()
  await proxy.close()
})

test.serial('lossless mode: a slow subscriber holds the publisher back instead of losing events', async (t) => {
  const proxy = await startProxy({ lossless: true, sndHwm: 1000, rcvHwm: 1000 })
  const sub = new j.SubscriberAsync(proxy.backend, { lossless: true, maxQueue: 1000, rcvHwm: 1000 }).subscribe(Telemetry)
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend, { sndHwm: 1000 })
  const n = 100_000
  const producer = (async () => {
    for (let i = 0; i < n; i++) await pub.publish(new Telemetry({ i, pad: 'x'.repeat(100) }))
    await pub.close()
  })()
  await pause(1500) // read nothing for a while
  const stalled = { pub: pub.stats(), sub: sub.stats() }
  let inOrder = 0
  for (let i = 0; i < n; i++) if ((await sub.get(20)).i === i) inOrder++
  await producer
  const s = sub.stats()
  t.log(`published ${n}; while the subscriber slept the publisher had sent ${stalled.pub.sent} and waited ${stalled.pub.blocked} times; delivered in order ${inOrder}, dropped ${s.dropped}`)
  t.true(stalled.pub.sent < n, 'the publisher was held back')
  t.true(pub.stats().blocked > 0)
  t.is(s.dropped, 0)
  t.is(inOrder, n)
  await sub.close()
  await proxy.close()
})
