// `juice ingest` as a lab runs it, against a real influxd: the schema taken from the event classes
// (or a schema file), exact under a burst (it reads no faster than it stores, behind a lossless
// proxy), bounded and lossless through a 30 s database outage at full rate, and a non-zero exit
// whenever anything was not stored.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { j, startProxy, subscribed } = require('./helpers')
const { startInflux, rows } = require('./influx-helpers')

const BIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Polls an async condition until it holds or `ms` pass. */
async function until(cond, ms) {
  const end = Date.now() + ms
  for (;;) {
    if (await cond()) return true
    if (Date.now() > end) return false
    await sleep(100)
  }
}

/** `juice ingest ARGS` as a child process: its stderr, its exit, and its RSS now. */
function ingest(args) {
  const child = spawn(process.execPath, [BIN, 'ingest', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const p = { child, err: '' }
  child.stderr.on('data', (d) => (p.err += d))
  child.stdout.resume()
  p.exit = new Promise((r) => child.on('close', (code) => r(code)))
  p.rssMb = () => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) / 1024
    } catch {
      return 0
    }
  }
  return p
}

async function count(db, dbName, q) {
  return rows(await db.query(dbName, q))[0]?.count ?? 0
}

test('--classes takes measurement, tags and field types from the exported classes; --schema from a JSON file', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('cls')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-classes-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const mod = path.join(dir, 'events.js')
  fs.writeFileSync(
    mod,
    `const { Event } = require(${JSON.stringify(path.join(__dirname, '..'))})
class Fridge extends Event {
  static measurement = 'fridge_cls'
  static tags = ['qpu']
  static fields = { kelvin: 'float', seq: 'int', ok: 'bool' }
  topic() { return this.qpu }
}
class Pump extends Event {
  static measurement = 'pump_cls'
  static integerFields = ['rpm']
}
class NotStored extends Event {}
module.exports = { Fridge, Pump, NotStored, helper: () => 1 }
`,
  )
  const schema = path.join(dir, 'schema.json')
  fs.writeFileSync(schema, JSON.stringify({ Valve: { measurement: 'valve_cls', tags: ['line'], fields: { open: 'bool', flow: 'float' } } }))
  const proxy = await startProxy()
  const a = ingest(['--classes', mod, '--uri', proxy.backend, '--influx', db.url, '--db', 'cls', '--flush-interval', '0.1'])
  const b = ingest(['--schema', schema, '--uri', proxy.backend, '--influx', db.url, '--db', 'cls', '--flush-interval', '0.1'])
  t.teardown(() => {
    a.child.kill('SIGKILL')
    b.child.kill('SIGKILL')
  })
  // Two freshly spawned juice ingest processes (Node, the CLI, the addon, the classes) next to influxd.
  await subscribed(proxy, 3, 30_000)
  const { Fridge, Pump } = require(mod)
  class Valve extends j.Event {
    static eventName = 'Valve'
  }
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let n = 0; n < 50; n++) {
    await pub.publish(new Fridge({ qpu: `q${n % 2}`, kelvin: n === 7 ? 'NaN' : 0.01 * n, seq: n, ok: n % 2 === 0, time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)) }))
    await pub.publish(new Pump({ rpm: n * 10, time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)) }))
    await pub.publish(new Valve({ line: 'l1', open: n % 3 === 0, flow: n / 2, time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)) }))
  }
  await pub.close()
  t.true(await until(async () => (await count(db, 'cls', 'SELECT count(seq) FROM fridge_cls')) === 50 && (await count(db, 'cls', 'SELECT count(rpm) FROM pump_cls')) === 50 && (await count(db, 'cls', 'SELECT count(flow) FROM valve_cls')) === 50, 20_000), a.err + b.err)
  const types = async (m) => Object.fromEntries(rows(await db.query('cls', `SHOW FIELD KEYS FROM ${m}`)).map((x) => [x.fieldKey, x.fieldType]))
  t.deepEqual(await types('fridge_cls'), { kelvin: 'float', ok: 'boolean', seq: 'integer' })
  t.deepEqual(await types('pump_cls'), { rpm: 'integer' })
  t.deepEqual(await types('valve_cls'), { flow: 'float', open: 'boolean' })
  t.deepEqual(rows(await db.query('cls', 'SHOW TAG KEYS FROM fridge_cls')).map((r) => r.tagKey), ['qpu'])
  // The NaN reading is stored without its kelvin field, as upstream stores it.
  t.is(await count(db, 'cls', 'SELECT count(kelvin) FROM fridge_cls'), 49)
  a.child.kill('SIGTERM')
  b.child.kill('SIGTERM')
  t.is(await a.exit, 0, a.err)
  t.is(await b.exit, 0, b.err)
  t.regex(a.err, /Fridge, Pump -> InfluxDB 1\.x .*native engine/)
  // Mistakes are named.
  for (const [args, re] of [
    [['Nope', '--classes', mod], /Nope is not among the types of .*events\.js \(Fridge, Pump\)/],
    [['--classes', path.join(dir, 'missing.js')], /cannot load it/],
    [['--classes', mod, '--tags', 'x'], /--tags describes a classless type/],
    [['--schema', mod], /--schema .*events\.js: /],
    [[], /name at least one TYPE/],
    // A measurement InfluxDB would read as a comment is refused before anything runs.
    [['X', '--measurement', '#x'], /measurement "#x" of X starts with "#"/],
  ]) {
    const c = ingest([...args, '--uri', proxy.backend, '--influx', db.url, '--db', 'cls'])
    t.not(await c.exit, 0)
    t.regex(c.err, re)
  }
  await proxy.close()
})

test('a 100,000-event burst behind a lossless proxy is stored exactly with a small buffer; rejected events make the exit code 1', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('burst')
  const proxy = await startProxy({ lossless: true })
  t.teardown(() => proxy.close())
  // --max-buffer 2000: far less than the burst, so the sink must hold the publisher back.
  const c = ingest(['Burst', '--uri', proxy.backend, '--influx', db.url, '--db', 'burst', '--integers', 'n', '--max-buffer', '2000', '--batch-size', '1000', '--status-interval', '0.5'])
  t.teardown(() => c.child.kill('SIGKILL'))
  await subscribed(proxy, 1, 30_000)
  class Burst extends j.Event {}
  const pub = new j.PublisherAsync(proxy.frontend)
  const N = 100_000
  for (let n = 0; n < N; n++) await pub.publish(new Burst({ n, v: n / 7 }))
  // One that cannot be stored: a field without a value type line protocol can carry.
  await pub.publish(new Burst({ n: N, v: 'text' }))
  await pub.close()
  t.is(pub.stats().sent, N + 1)
  t.true(await until(async () => (await count(db, 'burst', 'SELECT count(n) FROM Burst')) >= N, 60_000), c.err.slice(-500))
  await sleep(500)
  t.is(await count(db, 'burst', 'SELECT count(n) FROM Burst'), N)
  c.child.kill('SIGTERM')
  t.is(await c.exit, 1, c.err.slice(-800))
  t.regex(c.err, /overflow 0/)
  t.regex(c.err, /1 event was not stored \(lost 0, overflow 0, rejected 1, malformed 0\)/)
})

test('a 30 s InfluxDB outage at full rate: the sink holds publishers back, stays bounded and loses nothing', async (t) => {
  // 38 s of pumping, then up to 120 s of linger in close() and 60 s for the last points to land.
  t.timeout(240_000)
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('outage')
  const proxy = await startProxy({ lossless: true })
  t.teardown(() => proxy.close())
  const c = ingest(['Reading', '--uri', proxy.backend, '--influx', db.url, '--db', 'outage', '--integers', 'n', '--max-buffer', '50000', '--status-interval', '1'])
  t.teardown(() => c.child.kill('SIGKILL'))
  await subscribed(proxy, 1, 30_000)
  class Reading extends j.Event {}
  // When pumping stops the lossless pipeline is full, and this publisher's own queue (up to
  // 100,000 events) drains only as fast as the sink writes to influxd: the default 5 s linger
  // could discard the tail of it.
  const pub = new j.PublisherAsync(proxy.frontend, { linger: 120 })
  let n = 0
  let stop = false
  const pumping = (async () => {
    while (!stop) await pub.publish(new Reading({ n: n++, kelvin: 0.01, path: 'qpu0.fridge.mxc' }))
  })()
  await sleep(3000)
  const before = n
  await db.stop()
  const downAt = n
  let peakRss = 0
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, c.rssMb())), 250)
  await sleep(30_000)
  const duringOutage = n - downAt
  await db.start()
  await sleep(5000)
  stop = true
  await pumping
  await pub.close()
  clearInterval(sampler)
  t.log(`published ${n}: ${before} before the outage, ${duringOutage} during it (held back), peak sink RSS ${peakRss.toFixed(0)} MiB`)
  t.true(await until(async () => (await count(db, 'outage', 'SELECT count(n) FROM Reading')) >= n, 60_000), c.err.slice(-800))
  t.is(await count(db, 'outage', 'SELECT count(n) FROM Reading'), n)
  // Backpressure: the publisher was held back for most of the outage instead of filling memory.
  t.true(duringOutage < 400_000, `published ${duringOutage} during the outage`)
  t.true(peakRss < 400, `peak RSS ${peakRss} MiB`)
  c.child.kill('SIGTERM')
  t.is(await c.exit, 0, c.err.slice(-800))
  t.regex(c.err, /retries [1-9]/)
})

test('lossy: with the database down, what does not fit is dropped and counted, and every event is accounted for', async (t) => {
  const http = require('node:http')
  // An InfluxDB that is always unavailable.
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(503).end('down'))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => server.close())
  const proxy = await startProxy()
  t.teardown(() => proxy.close())
  class Lossy extends j.Event {
    static measurement = 'lossy'
  }
  const sink = new j.TelemetrySink({
    uri: proxy.backend,
    influx: { version: 1, url: `http://127.0.0.1:${server.address().port}`, database: 'x' },
    lossless: false,
    batchSize: 100,
    maxBuffer: 300,
    closeTimeout: 0.3,
    retry: { min: 0.05, max: 0.05 },
  })
    .subscribe(Lossy)
    .start()
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let n = 0; n < 5000; n++) await pub.publish(new Lossy({ n }))
  await pub.close()
  t.true(await until(async () => sink.stats().received === 5000, 10_000), JSON.stringify(sink.stats()))
  const held = sink.stats()
  t.true(held.overflow > 4000, `dropped beyond the buffer: ${JSON.stringify(held)}`)
  t.true(held.buffered <= 500, `held at most the buffer and the batch being built: ${JSON.stringify(held)}`)
  await sink.close()
  const s = sink.stats()
  t.is(s.written, 0)
  t.is(s.overflow + s.lost + s.rejected, 5000, JSON.stringify(s))
  t.is(s.buffered, 0)
  t.regex(s.lastError, /HTTP 503/)
})
