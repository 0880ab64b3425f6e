// The bridge between a Juice proxy and a three-node NATS cluster (issue 19): each direction
// carries what the other side subscribes to, exactly once, and nothing loops back.
'use strict'
const test = require('ava')
const { j, Telemetry, startProxy, until, drain } = require('./helpers')
const { startCluster } = require('./nats-cluster')

let cluster
test.before(async () => {
  cluster = await startCluster(3)
})
test.after.always(async () => {
  await cluster?.stop()
})

/** Publishes probes on `topic` until `sub` receives one, then drains the rest. */
async function ready(pub, sub, topic) {
  for (let i = 0; i < 300; i++) {
    await pub.publish(new Telemetry({ path: topic, probe: i }))
    try {
      if ((await sub.get(0.05)).probe !== undefined) {
        await drain(sub, 0.3)
        return
      }
    } catch (e) {
      if (!(e instanceof j.TimeoutError)) throw e
    }
  }
  throw new Error(`no probe on ${topic} crossed the bridge within 15 s`)
}

async function collect(sub, n, key, seconds = 10) {
  const out = []
  const end = Date.now() + seconds * 1000
  while (out.length < n && Date.now() < end) {
    try {
      const e = await sub.get(0.2)
      if (e.probe === undefined) out.push(e[key])
    } catch (e) {
      if (!(e instanceof j.TimeoutError)) throw e
    }
  }
  return out
}

/** `juice bridge` as a child process between `proxy` and the cluster, with a status line every 0.2 s. */
function bridgeChild(proxy, natsPrefix) {
  const path = require('node:path')
  const { spawn } = require('node:child_process')
  const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
  const args = [cli, 'bridge', '--frontend', proxy.frontend, '--backend', proxy.backend, '--nats', cluster.url(0), '--prefix', natsPrefix, '--interval', '0.2']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const c = { child, out: '', err: '', exit: null }
  child.stdout.on('data', (d) => (c.out += d))
  child.stderr.on('data', (d) => (c.err += d))
  c.exited = new Promise((r) =>
    child.on('exit', (code, signal) => {
      c.exit = { code, signal }
      r(c.exit)
    }),
  )
  return c
}

const seq = (n) => Array.from({ length: n }, (_, i) => i)

test('both directions carry what the other side subscribes to, once each, and nothing loops', async (t) => {
  const proxy = await startProxy()
  const bridge = j.Bridge.start({ proxy: { frontend: proxy.frontend, backend: proxy.backend }, nats: cluster.url(0) })
  const onNats = new j.SubscriberAsync(cluster.url(1)).subscribe(Telemetry, { topic: 'lab' }).subscribe(Telemetry, { topic: 'both' })
  const onZmq = new j.SubscriberAsync(proxy.backend).subscribe(Telemetry, { topic: 'node' }).subscribe(Telemetry, { topic: 'both' })
  const zmqPub = new j.PublisherAsync(proxy.frontend)
  const natsPub = new j.PublisherAsync(cluster.url(2))
  try {
    t.true(await until(() => bridge.stats().natsFilters >= 2 && bridge.stats().zmqFilters >= 2, 10_000), JSON.stringify(bridge.stats()))
    await ready(zmqPub, onNats, 'lab.probe')
    await ready(natsPub, onZmq, 'node.probe')
    const before = bridge.stats()
    for (const i of seq(500)) await zmqPub.publish(new Telemetry({ path: 'lab', i }))
    for (const i of seq(100)) await zmqPub.publish(new Telemetry({ path: 'unwanted', i }))
    for (const i of seq(500)) await natsPub.publish(new Telemetry({ path: 'node', i }))
    for (const i of seq(100)) await natsPub.publish(new Telemetry({ path: 'nobody', i }))
    t.deepEqual(await collect(onNats, 500, 'i'), seq(500), 'proxy -> NATS: all, in order')
    t.deepEqual(await collect(onZmq, 500, 'i'), seq(500), 'NATS -> proxy: all, in order')
    const mid = bridge.stats()
    t.is(mid.toNats - before.toNats, 500, 'only what NATS subscribers want goes to NATS')
    t.is(mid.toZmq - before.toZmq, 500, 'only what proxy subscribers want goes into the proxy')

    // A topic both sides subscribe to: each event reaches each side once, from either side.
    await zmqPub.publish(new Telemetry({ path: 'both', from: 'zmq' }))
    await natsPub.publish(new Telemetry({ path: 'both', from: 'nats' }))
    const a = (await drain(onNats, 1.5)).map((e) => e.from).sort()
    const b = (await drain(onZmq, 1.5)).map((e) => e.from).sort()
    t.deepEqual(a, ['nats', 'zmq'], 'NATS side: each once')
    t.deepEqual(b, ['nats', 'zmq'], 'proxy side: each once')
    const end = bridge.stats()
    t.true(end.echoes >= 2, `the bridge saw its own output come back and dropped it (${end.echoes})`)
    t.is(end.dropped + end.malformed, 0)
    t.true(end.natsConnected && end.zmqConnected)
    t.log(end)
  } finally {
    await zmqPub.close()
    await natsPub.close()
    await onNats.close()
    await onZmq.close()
    await bridge.close()
    await proxy.close()
  }
})

test('a bridge restarted mid-stream: the gap is counted, and everything after the restart arrives in order', async (t) => {
  const proxy = await startProxy()
  const endpoints = { frontend: proxy.frontend, backend: proxy.backend }
  let bridge = j.Bridge.start({ proxy: endpoints, nats: cluster.url(0) })
  const onNats = new j.SubscriberAsync(cluster.url(2), { maxQueue: 1_000_000 }).subscribe(Telemetry, { topic: 'stream' }).subscribe(Telemetry, { topic: 'probe' })
  const pub = new j.PublisherAsync(proxy.frontend)
  try {
    await ready(pub, onNats, 'probe')
    let n = 0
    let restartedAt = -1
    const t0 = Date.now()
    while (Date.now() - t0 < 4000) {
      await pub.publish(new Telemetry({ path: 'stream', n: n++ }))
      if (restartedAt < 0 && Date.now() - t0 > 1000) {
        await bridge.close()
        bridge = j.Bridge.start({ proxy: endpoints, nats: cluster.url(1) })
        restartedAt = n
      }
      await new Promise((r) => setTimeout(r, 2))
    }
    const got = await collect(onNats, n, 'n', 10)
    const lost = n - got.length
    t.log(`published ${n}; delivered ${got.length}; lost ${lost} while the bridge restarted (at event ${restartedAt})`)
    t.deepEqual(got, [...got].sort((x, y) => x - y), 'in order')
    t.is(new Set(got).size, got.length, 'no duplicates')
    t.is(got.at(-1), n - 1, 'the stream continued through the new bridge')
    t.true(got.filter((x) => x < restartedAt).length > 0, 'events before the restart arrived')
    const firstAfter = got.find((x) => x >= restartedAt)
    t.deepEqual(got.filter((x) => x >= firstAfter), seq(n - firstAfter).map((x) => x + firstAfter), 'after the new bridge took over: all')
  } finally {
    await pub.close()
    await onNats.close()
    await bridge.close()
    await proxy.close()
  }
})

test('bad bridge options are refused with errors naming the problem', (t) => {
  t.throws(() => j.Bridge.start({ proxy: 'lab-pc' }), { message: /nats is required/ })
  t.throws(() => j.Bridge.start({ proxy: 'lab-pc', nats: 'tcp://x:1' }), { message: /not a nats:\/\// })
  t.throws(() => j.Bridge.start({ proxy: 'lab-pc:5122', nats: 'nats://x:4222' }), { message: /without a port/ })
  t.throws(() => j.Bridge.start({ proxy: 'lab-pc', nats: 'nats://x:4222', natsPrefix: '$SYS' }), { message: /reserves/ })
})

class Rich extends j.Event {
  topic() {
    return 'rich'
  }
}
class Probe extends j.Event {}

const TABLE = ['a.b', 'a.c', 'a.bb', 'a', 'a.b.c']
/** Fields upstream's Rich event (__test__/interop/juice_events.py) requires. */
const RICH = { pos: { x: 1, y: 2.5 }, positions: [], ints: [1, 2], f: 0.1, n: 2 ** 53 - 1, flag: true, none: null, text: 'µK ✓ 量子', mode: 'busy' }

test('real Python Juice on the proxy and Node on NATS hear each other through the bridge', async (t) => {
  const { pythonPeer } = require('./python-peer')
  const proxy = await startProxy()
  const bridge = j.Bridge.start({ proxy: { frontend: proxy.frontend, backend: proxy.backend }, nats: cluster.url(0), natsPrefix: 'py.juice' })
  const natsOpts = { natsPrefix: 'py.juice' }
  const sub = new j.SubscriberAsync(cluster.url(1), natsOpts).subscribe(Telemetry, { topic: 'a.b' }).subscribe(Rich).subscribe(Probe)
  const pub = new j.PublisherAsync(cluster.url(2), natsOpts)
  const pyPub = pythonPeer(['pub', proxy.frontend, 'blocking'])
  // The Python subscriber gives up 20 s after it starts: it starts when its half of the test does.
  let pySub = null
  t.teardown(() => {
    pyPub.kill()
    pySub?.kill()
  })
  try {
    // Python -> proxy -> bridge -> NATS -> Node.
    pyPub.write(JSON.stringify([...TABLE.map((p) => ({ type: 'Telemetry', fields: { path: p, value: 0.5 } })), { type: 'Rich', fields: RICH }]))
    let first
    const end = Date.now() + 30_000
    while (!(first instanceof Probe) && Date.now() < end) {
      try {
        first = await sub.get(0.5)
      } catch (e) {
        if (!(e instanceof j.TimeoutError)) throw e
      }
    }
    t.true(first instanceof Probe, 'the Python publisher is heard on NATS')
    pyPub.write('go')
    const got = []
    try {
      while (got.length < 3) {
        const e = await sub.get(20)
        if (!(e instanceof Probe)) got.push(`${e.constructor.name}:${e.topic()}`)
      }
    } catch (e) {
      t.log({ got, py: pyPub.lines, bridge: bridge.stats(), sub: sub.stats(), proxy: proxy.stats() })
      throw e
    }
    t.deepEqual(got, ['Telemetry:a.b', 'Telemetry:a.b.c', 'Rich:rich'], 'the topic rule and exact types hold across the bridge')

    // Node -> NATS -> bridge -> proxy -> Python.
    pySub = pythonPeer(['sub', proxy.backend, 'blocking', JSON.stringify([['Telemetry', 'a.b'], ['Rich', null]]), '3'])
    await pySub.line((l) => l.ready)
    const probed = pySub.line((l) => l.probe, 30_000)
    let up = false
    probed.then(() => (up = true), () => {})
    while (!up && !pySub.lines.some((l) => l.done !== undefined)) {
      await pub.publish(new Probe())
      await new Promise((r) => setTimeout(r, 50))
    }
    await probed
    for (const p of TABLE) await pub.publish(new Telemetry({ path: p, value: 1.5 }))
    await pub.publish(new Rich({ ...RICH, text: 'from node' }))
    const done = await pySub.line((l) => l.done !== undefined)
    t.is(done.done, 3)
    t.deepEqual(
      pySub.lines.filter((l) => l.event).map((l) => `${l.event.type}:${l.event.topic}`),
      ['Telemetry:a.b', 'Telemetry:a.b.c', 'Rich:rich'],
    )
    t.is(bridge.stats().dropped, 0)
    pyPub.write('close')
  } finally {
    await pub.close()
    await sub.close()
    await bridge.close()
    await proxy.close()
  }
})

test('juice bridge forwards until SIGTERM, logs its counters, and refuses bad arguments with exit 2', async (t) => {
  const path = require('node:path')
  const { spawnSync } = require('node:child_process')
  const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
  const usage = spawnSync(process.execPath, [cli, 'bridge', '--proxy', 'lab-pc'], { encoding: 'utf8' })
  t.is(usage.status, 2)
  t.regex(usage.stderr, /--nats is required/)

  const proxy = await startProxy()
  const natsPrefix = 'cli.juice'
  const b = bridgeChild(proxy, natsPrefix)
  const sub = new j.SubscriberAsync(cluster.url(1), { natsPrefix }).subscribe(Telemetry, { topic: 'cli' }).subscribe(Telemetry, { topic: 'probe' })
  const pub = new j.PublisherAsync(proxy.frontend)
  try {
    await ready(pub, sub, 'probe')
    for (const i of seq(10)) await pub.publish(new Telemetry({ path: 'cli', i }))
    t.deepEqual(await collect(sub, 10, 'i'), seq(10))
    t.true(await until(() => /to NATS \d+/.test(b.out), 5000), b.out)
  } finally {
    b.child.kill('SIGTERM')
    await pub.close()
    await sub.close()
  }
  const { code } = await b.exited
  t.is(code, 0, b.err)
  t.regex(b.err, /juice bridge: proxy .* <-> NATS nats:\/\/127\.0\.0\.1:\d+ \(prefix cli\.juice\)/)
  t.regex(b.err, /stopped; \d+ events to NATS, 0 to the proxy, 0 dropped/)
  await proxy.close()
})

/** Publishes raw NATS messages (the protocol over TCP: INFO, CONNECT, PUB, PING/PONG). */
async function rawNatsPublish(url, messages) {
  const net = require('node:net')
  const { hostname, port } = new URL(url.replace('nats://', 'http://'))
  const sock = net.connect(Number(port), hostname)
  let got = ''
  sock.on('data', (d) => (got += d))
  sock.on('error', (e) => (got += `-ERR ${e.message}`))
  await until(() => got.includes('INFO '), 5000)
  sock.write('CONNECT {"verbose":false,"pedantic":false}\r\n')
  for (const [subject, payload] of messages) sock.write(`PUB ${subject} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`)
  sock.write('PING\r\n')
  const ok = await until(() => got.includes('PONG'), 10_000)
  sock.destroy()
  if (!ok || got.includes('-ERR')) throw new Error(`NATS refused the raw messages: ${got.slice(0, 300)}`)
}

test('hostile interest announcements on NATS (huge, deep, from thousands of ids) are counted and bounded; the bridge lives on', async (t) => {
  const proxy = await startProxy()
  const natsPrefix = 'hostile.juice'
  const b = bridgeChild(proxy, natsPrefix)
  const malformed = () => Number((/malformed ([\d,]+)[^\n]*\n$/.exec(b.out)?.[1] ?? '-1').replaceAll(',', ''))
  try {
    t.true(await until(() => /NATS up/.test(b.out), 10_000), b.out + b.err)
    const subject = `_JUICE.${natsPrefix}.interest`
    // Filters our subscribe() would refuse: a 40 KB topic (libzmq's subscription trie recurses
    // once per byte of a prefix it removes) and 200 segments; then 5,000 announcers.
    const long = `${natsPrefix}.Telemetry.${'x'.repeat(40_000)}`
    const deep = `${natsPrefix}.Telemetry.${Array(200).fill('a').join('.')}`
    const messages = [
      [subject, `00000000000000a1\n${long}`],
      [subject, `00000000000000a2\n${deep}`],
    ]
    for (let i = 0; i < 5000; i++) messages.push([subject, `${(0x1000 + i).toString(16).padStart(16, '0')}\n${natsPrefix}.Telemetry.ok`])
    await rawNatsPublish(cluster.url(1), messages)
    // The leases of those that were taken run out after 7 s: the bridge unsubscribes them then.
    const expect = 2 + (5000 - 4096)
    t.true(await until(() => malformed() >= expect, 10_000), `malformed ${malformed()}, expected ${expect}: ${b.out.slice(-300)}`)
    await new Promise((r) => setTimeout(r, 9000))
    t.is(b.exit, null, `the bridge died: ${JSON.stringify(b.exit)} ${b.err}`)
    // Still forwarding.
    const sub = new j.SubscriberAsync(cluster.url(2), { natsPrefix }).subscribe(Telemetry, { topic: 'after' })
    const pub = new j.PublisherAsync(proxy.frontend)
    try {
      await ready(pub, sub, 'after')
    } finally {
      await pub.close()
      await sub.close()
    }
    t.log(`refused announcements ${malformed()} (>= ${expect}); ${b.out.trim().split('\n').pop()}`)
  } finally {
    b.child.kill('SIGTERM')
  }
  const { code, signal } = await b.exited
  t.is(signal, null)
  t.is(code, 0, b.err)
  await proxy.close()
})

test('a flood of interest queries is not multiplied: a NATS subscriber answers at most a few per second', async (t) => {
  const net = require('node:net')
  const natsPrefix = 'flood.juice'
  const sub = new j.SubscriberAsync(cluster.url(0), { natsPrefix }).subscribe(Telemetry, { topic: 'x' })
  const { hostname, port } = new URL(cluster.url(1).replace('nats://', 'http://'))
  const sock = net.connect(Number(port), hostname)
  let got = ''
  sock.on('data', (d) => (got += d))
  sock.on('error', (e) => (got += `-ERR ${e.message}`))
  try {
    await until(() => got.includes('INFO '), 5000)
    sock.write(`CONNECT {"verbose":false}\r\nSUB _JUICE.${natsPrefix}.interest 1\r\nPING\r\n`)
    await until(() => got.includes('PONG'), 5000)
    const announcements = () => (got.match(/^MSG _JUICE\.flood\.juice\.interest 1 /gm) ?? []).length
    // The subscriber announces by itself every 2 s; wait for one so its filter is in place.
    t.true(await until(() => announcements() >= 1, 5000), got.slice(0, 300))
    const before = announcements()
    const started = Date.now()
    sock.write(`PUB _JUICE.${natsPrefix}.interest.query 0\r\n\r\n`.repeat(2000))
    await new Promise((r) => setTimeout(r, 1000))
    const answers = announcements() - before
    const secs = (Date.now() - started) / 1000
    t.log(`2,000 queries: ${answers} announcements in ${secs.toFixed(1)} s`)
    t.true(answers >= 1, 'queries are still answered')
    t.true(answers <= 4 * secs + 2, `at most about 4 answers a second, plus the periodic one (${answers})`)
  } finally {
    sock.destroy()
    await sub.close()
  }
})
