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
  const { spawn, spawnSync } = require('node:child_process')
  const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
  const usage = spawnSync(process.execPath, [cli, 'bridge', '--proxy', 'lab-pc'], { encoding: 'utf8' })
  t.is(usage.status, 2)
  t.regex(usage.stderr, /--nats is required/)

  const proxy = await startProxy()
  const natsPrefix = 'cli.juice'
  const args = [cli, 'bridge', '--frontend', proxy.frontend, '--backend', proxy.backend, '--nats', cluster.url(0), '--prefix', natsPrefix, '--interval', '0.2']
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })))
  const sub = new j.SubscriberAsync(cluster.url(1), { natsPrefix }).subscribe(Telemetry, { topic: 'cli' }).subscribe(Telemetry, { topic: 'probe' })
  const pub = new j.PublisherAsync(proxy.frontend)
  try {
    await ready(pub, sub, 'probe')
    for (const i of seq(10)) await pub.publish(new Telemetry({ path: 'cli', i }))
    t.deepEqual(await collect(sub, 10, 'i'), seq(10))
    t.true(await until(() => /to NATS \d+/.test(out), 5000), out)
  } finally {
    child.kill('SIGTERM')
    await pub.close()
    await sub.close()
  }
  const { code } = await exited
  t.is(code, 0, err)
  t.regex(err, /juice bridge: proxy .* <-> NATS nats:\/\/127\.0\.0\.1:\d+ \(prefix cli\.juice\)/)
  t.regex(err, /stopped; \d+ events to NATS, 0 to the proxy, 0 dropped/)
  await proxy.close()
})
