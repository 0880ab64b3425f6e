// TelemetrySink against a real InfluxDB 1.x, for one engine (sink.test.js runs them for the native
// engine, sink-js.test.js for the JavaScript one): events published through the proxy are stored
// and read back exactly; nothing is lost or doubled across an outage. The 2.x requests are
// checked against the documented API with a recording HTTP server.
'use strict'
const ava = require('ava')
const http = require('node:http')
const zlib = require('node:zlib')
const { j, startProxy, until, subscribed } = require('./helpers')
const { startInflux, rows } = require('./influx-helpers')

/** Defines every sink test for `engine` ('native' or 'js'); CLI tests only with `cli: true`. */
module.exports = function defineSinkTests(engine, { cli: withCli = false } = {}) {
const test = (title, fn) => ava(`[${engine}] ${title}`, fn)
const cli = (title, fn) => withCli && ava(title, fn)
class TelemetrySink extends j.TelemetrySink {
  constructor(opts) {
    super({ engine, ...opts })
  }
}

class Cryo extends j.Event {
  static measurement = 'cryo'
  static tags = ['qpu', 'stage']
  static integerFields = ['seq']
  topic() {
    return `${this.qpu}.${this.stage}`
  }
}

/** The n-th test event: distinct microsecond times, every field type. */
function cryo(n) {
  const us = String(n % 1_000_000).padStart(6, '0')
  const s = String(Math.floor(n / 1_000_000)).padStart(2, '0')
  return new Cryo({ qpu: `qpu${n % 3}`, stage: n % 2 ? 'mxc' : 'still', kelvin: 0.01 + n / 1e6, seq: n, ok: n % 5 !== 0, note: `reading ${n}`, time: `2026-03-01T00:00:${s}.${us}Z` })
}
const nsOf = (n) => String(BigInt(Date.UTC(2026, 2, 1) + Math.floor(n / 1_000_000) * 1000) * 1_000_000n + BigInt((n % 1_000_000) * 1000))

async function pipeline(db, dbName, sinkOpts = {}) {
  const proxy = await startProxy()
  const sink = new TelemetrySink({ uri: proxy.backend, influx: { version: 1, url: db.url, database: dbName }, ...sinkOpts }).subscribe(Cryo).start()
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  return { proxy, sink, pub }
}

test('events published through the proxy land in InfluxDB exactly: count, tags, fields, timestamps', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('juice')
  const { proxy, sink, pub } = await pipeline(db, 'juice', { batchSize: 2000, flushInterval: 0.2 })
  const N = 20_000
  for (let n = 0; n < N; n++) await pub.publish(cryo(n))
  await pub.close()
  t.true(await until(() => sink.stats().written === N, 30_000), JSON.stringify(sink.stats()))
  await sink.close()
  t.log(`stats ${JSON.stringify(sink.stats())}`)
  t.like(sink.stats(), { received: N, written: N, rejected: 0, overflow: 0, lost: 0, buffered: 0 })
  const got = rows(await db.query('juice', 'SELECT * FROM cryo'))
  t.is(got.length, N)
  let mismatches = 0
  for (const r of got) {
    const n = r.seq
    const e = cryo(n)
    const same = r.time === nsOf(n) && r.qpu === e.qpu && r.stage === e.stage && r.kelvin === e.kelvin && r.ok === e.ok && r.note === e.note
    if (!same && mismatches++ < 3) t.log(`mismatch: ${JSON.stringify(r)} vs ${e.toLineProtocol()}`)
  }
  t.is(mismatches, 0)
  t.deepEqual([...new Set(got.map((r) => r.seq))].length, N, 'every event exactly once')
  const types = rows(await db.query('juice', 'SHOW FIELD KEYS FROM cryo'))
  t.deepEqual(Object.fromEntries(types.map((x) => [x.fieldKey, x.fieldType])), { kelvin: 'float', note: 'string', ok: 'boolean', seq: 'integer' })
  await proxy.close()
})

test('a 5 s database outage mid-stream loses nothing and stores nothing twice', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('juice')
  const { proxy, sink, pub } = await pipeline(db, 'juice', { batchSize: 500, flushInterval: 0.1, retry: { min: 0.05, max: 0.5 } })
  const N = 12_000
  let outage = null
  const started = Date.now()
  for (let n = 0; n < N; n++) {
    await pub.publish(cryo(n))
    if (n % 100 === 99) await new Promise((r) => setTimeout(r, 50)) // ~2,000 events/s for ~6 s
    if (n === 3000) {
      outage = (async () => {
        await db.stop()
        const down = Date.now()
        await new Promise((r) => setTimeout(r, 5000))
        await db.start()
        return Date.now() - down
      })()
    }
  }
  await pub.close()
  const downMs = await outage
  t.true(await until(() => sink.stats().written === N, 60_000), JSON.stringify(sink.stats()))
  const s = sink.stats()
  t.log(`published ${N} in ${Date.now() - started} ms; influxd down ${downMs} ms; sink ${JSON.stringify(s)}`)
  t.true(s.retries > 0, 'writes failed during the outage and were retried')
  t.like(s, { received: N, written: N, rejected: 0, overflow: 0 })
  await sink.close()
  const [count] = rows(await db.query('juice', 'SELECT count(seq) FROM cryo'))
  t.is(count.count, N, 'exactly N points stored')
  const seqs = rows(await db.query('juice', 'SELECT seq FROM cryo')).map((r) => r.seq)
  t.is(new Set(seqs).size, N)
  await proxy.close()
})

/** A loopback HTTP server that records requests and answers with `statuses` in turn (then 204). */
function recorder(statuses = []) {
  return fakeInflux(() => {
    const status = statuses.shift() ?? 204
    return { status, headers: { 'Content-Type': 'application/json' }, body: status === 204 ? '' : JSON.stringify({ code: 'x', message: `status ${status}` }) }
  })
}

test('InfluxDB 2.x: POST /api/v2/write with org, bucket, ns precision, a token and gzip when it pays', async (t) => {
  const rec = await recorder([503, 429])
  t.teardown(() => rec.close())
  const proxy = await startProxy()
  const sink = new TelemetrySink({
    uri: proxy.backend,
    influx: { version: 2, url: rec.url + '/base/', org: 'orange lab', bucket: 'qpu&data', token: 's3cr=t' },
    batchSize: 1000,
    flushInterval: 0.5,
    retry: { min: 0.02, max: 0.05 },
    // This server is on loopback, where bodies are not gzipped by default: ask for it.
    gzip: true,
  }).subscribe(Cryo).start()
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(cryo(1))
  t.true(await until(() => sink.stats().written === 1), JSON.stringify(sink.stats()))
  for (let n = 2; n < 1002; n++) await pub.publish(cryo(n))
  t.true(await until(() => sink.stats().written === 1001), JSON.stringify(sink.stats()))
  await pub.close()
  await sink.close()
  const [first, , third, ...rest] = rec.seen
  t.true(rec.seen.length >= 4, 'two failed attempts (503, 429), the retry, then the rest')
  t.is(first.method, 'POST')
  t.is(first.url.pathname, '/base/api/v2/write')
  t.deepEqual(Object.fromEntries(first.url.searchParams), { org: 'orange lab', bucket: 'qpu&data', precision: 'ns' })
  t.is(first.headers.authorization, 'Token s3cr=t')
  t.is(first.headers['content-type'], 'text/plain; charset=utf-8')
  t.is(first.body, cryo(1).toLineProtocol())
  t.false(first.gz, 'a small body is sent plain')
  t.is(third.body, first.body, 'the retry sends the same batch')
  // The other 1,000 events, in order, in one or more batches (a slow machine may cut a batch by time).
  t.deepEqual(rest.flatMap((r) => r.body.split('\n')), Array.from({ length: 1000 }, (_, i) => cryo(i + 2).toLineProtocol()))
  const big = rest.reduce((a, b) => (Buffer.byteLength(b.body) > Buffer.byteLength(a.body) ? b : a))
  t.true(Buffer.byteLength(big.body) >= 4096)
  t.true(big.gz, 'a big body is gzipped')
  t.is(big.headers['content-encoding'], 'gzip')
  t.true(big.size < Buffer.byteLength(big.body) / 3, `gzip pays: ${big.size} of ${Buffer.byteLength(big.body)} bytes`)
  for (const r of rest) t.is(r.gz, Buffer.byteLength(r.body) >= 4096)
  t.like(sink.stats(), { written: 1001, retries: 2, batches: rest.length + 1 })
  await proxy.close()
})

test('InfluxDB 1.x request shape; a refused batch (4xx) is counted as rejected, not retried forever', async (t) => {
  const rec = await recorder([400])
  t.teardown(() => rec.close())
  const proxy = await startProxy()
  const sink = new TelemetrySink({
    uri: proxy.backend,
    influx: { version: 1, url: rec.url, database: 'lab', retentionPolicy: 'autogen', username: 'juice', password: 'pw' },
    flushInterval: 0.1,
  }).subscribe(Cryo).start()
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(cryo(1))
  t.true(await until(() => sink.stats().rejected === 1))
  await pub.publish(cryo(2))
  t.true(await until(() => sink.stats().written === 1))
  await pub.close()
  await sink.close()
  const [refused, ok] = rec.seen
  t.is(refused.url.pathname, '/write')
  t.deepEqual(Object.fromEntries(refused.url.searchParams), { db: 'lab', rp: 'autogen', precision: 'ns' })
  t.is(refused.headers.authorization, 'Basic ' + Buffer.from('juice:pw').toString('base64'))
  t.is(ok.body, cryo(2).toLineProtocol())
  t.regex(sink.stats().lastError, /HTTP 400/)
  t.like(sink.stats(), { received: 2, written: 1, rejected: 1, retries: 0 })
  await proxy.close()
})

test('events that cannot become points are counted as rejected; close() reports what it could not write', async (t) => {
  const proxy = await startProxy()
  // Nothing listens on this port: every write fails, close() gives up after closeTimeout.
  const sink = new TelemetrySink({ uri: proxy.backend, influx: { version: 1, url: 'http://127.0.0.1:9', database: 'x' }, flushInterval: 0.05, closeTimeout: 0.5, retry: { min: 0.05, max: 0.1 } })
    .subscribe(Cryo)
    .start()
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Cryo({ qpu: 'a', stage: 'b', kelvin: NaN }))
  await pub.publish(cryo(7))
  await pub.close()
  t.true(await until(() => sink.stats().received === 2))
  await sink.close()
  const s = sink.stats()
  t.like(s, { received: 2, rejected: 1, written: 0, lost: 1, buffered: 0 })
  t.regex(s.lastError, /ECONNREFUSED/)
  class NoMeasurement extends j.Event {}
  t.throws(() => sink.subscribe(NoMeasurement), { instanceOf: TypeError, message: /NoMeasurement has no static measurement/ })
  t.throws(() => new TelemetrySink({ uri: proxy.backend, influx: { version: 3, url: 'http://x' } }), { message: /influx.version must be 1 or 2/ })
  t.throws(() => new TelemetrySink({ uri: proxy.backend, influx: { version: 2, url: 'http://x', org: 'o', bucket: 'b' } }), { message: /influx.token is required/ })
  t.throws(() => new TelemetrySink({ uri: proxy.backend, influx: { version: 1, url: 'nope', database: 'x' } }), { message: /influx.url is not a URL/ })
  await proxy.close()
})

cli('juice ingest stores the chosen types and topics, then stops cleanly on SIGTERM', async (t) => {
  const { spawn } = require('node:child_process')
  const path = require('node:path')
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('cli')
  const proxy = await startProxy()
  const bin = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
  const args = ['ingest', 'Cryo.qpu0', '--uri', proxy.backend, '--influx', db.url, '--db', 'cli', '--tags', 'qpu,stage', '--integers', 'seq', '--measurement', 'cryo_cli', '--flush-interval', '0.1', '--status-interval', '0.2']
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => child.kill('SIGKILL'))
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const exit = new Promise((r) => child.on('close', (code) => r(code)))
  await subscribed(proxy, 1, 30_000) // a freshly spawned juice ingest: Node, the CLI and the addon load first
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let n = 0; n < 900; n++) await pub.publish(cryo(n))
  await pub.close()
  const expected = 300 // qpu0 only
  const count = async () => rows(await db.query('cli', 'SELECT count(seq) FROM cryo_cli'))[0]?.count ?? 0
  const end = Date.now() + 20_000
  while ((await count()) < expected && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
  t.is(await count(), expected)
  const tagged = rows(await db.query('cli', 'SELECT * FROM cryo_cli WHERE qpu != \'qpu0\''))
  t.is(tagged.length, 0, 'the topic filter held')
  const keys = rows(await db.query('cli', 'SHOW TAG KEYS FROM cryo_cli')).map((r) => r.tagKey)
  t.deepEqual(keys, ['qpu', 'stage'])
  t.true(await until(() => /juice ingest: received 300, written 300/.test(err)), err)
  child.kill('SIGTERM')
  t.is(await exit, 0, err)
  t.regex(err, /stopped; received 300, written 300, buffered 0, retries 0, rejected 0, overflow 0/)
  await proxy.close()
})

/**
 * A loopback HTTP server standing in for InfluxDB: records every request (method, url, headers,
 * body decompressed, lines, whether gzipped, size on the wire, arrival time) and answers each
 * with `judge(lines)` ({ status, body?, headers? }).
 */
async function fakeInflux(judge) {
  const seen = []
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const gz = req.headers['content-encoding'] === 'gzip'
      const body = (gz ? zlib.gunzipSync(raw) : raw).toString('utf8')
      const lines = body.split('\n')
      seen.push({ at: Date.now(), method: req.method, url: new URL(req.url, 'http://x'), headers: req.headers, body, lines, gz, size: raw.length })
      const a = judge(lines)
      res.writeHead(a.status, a.headers ?? {})
      res.end(a.body ?? '')
    })
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((r) => server.close(r)) }
}

async function sinkWith(url, opts = {}) {
  const proxy = await startProxy()
  const sink = new TelemetrySink({ uri: proxy.backend, influx: { version: 1, url, database: 'lab' }, flushInterval: 0.2, ...opts }).subscribe(Cryo).start()
  await subscribed(proxy)
  const pub = new j.PublisherAsync(proxy.frontend)
  return { proxy, sink, pub }
}

test('one bad point costs only itself: a refused or oversized batch is split until the bad point is alone', async (t) => {
  const MAX = 1 << 20
  const db = await fakeInflux((lines) => {
    if (lines.join('\n').length > MAX) return { status: 413, body: '{"error":"Request Entity Too Large"}' }
    if (lines.some((l) => l.includes('note="poison'))) return { status: 400, body: '{"error":"unable to parse: bad point"}' }
    return { status: 204 }
  })
  t.teardown(() => db.close())
  const { proxy, sink, pub } = await sinkWith(db.url)
  for (let n = 0; n < 100; n++) {
    const ev = cryo(n)
    if (n === 37) ev.note = 'poison'
    if (n === 60) ev.note = 'x'.repeat(2 << 20) // 2 MB: too large alone
    await pub.publish(ev)
  }
  t.true(await until(() => sink.stats().written + sink.stats().rejected === 100, 15_000), JSON.stringify(sink.stats()))
  t.like(sink.stats(), { received: 100, written: 98, rejected: 2 })
  const stored = new Set(db.seen.filter((r) => r.lines.join('\n').length <= MAX && !r.lines.some((l) => l.includes('poison'))).flatMap((r) => r.lines))
  t.is(stored.size, 98, 'every good point was stored')
  await pub.close()
  await sink.close()
  await proxy.close()
})

test('a partial write whose dropped count cannot be trusted is split, never counted as written', async (t) => {
  // InfluxDB 1.x stores the lines it can parse and answers "partial write: unable to parse ...
  // dropped=0" (the unparsed line is not in the count); its error text also quotes field names,
  // which may themselves read "dropped=0".
  const db = await fakeInflux((lines) => {
    const bad = lines.filter((l) => l.includes('note="unparseable'))
    if (bad.length > 0) return { status: 400, body: JSON.stringify({ error: `partial write: unable to parse '${bad[0]}': bad timestamp dropped=0` }) }
    const conflict = lines.filter((l) => l.includes('note="conflict'))
    if (conflict.length > 0) return { status: 400, body: JSON.stringify({ error: `partial write: field type conflict: input field "dropped=0" on measurement "cryo" is type string, already exists as type float dropped=${conflict.length}` }) }
    return { status: 204 }
  })
  t.teardown(() => db.close())
  const { proxy, sink, pub } = await sinkWith(db.url)
  for (let n = 0; n < 50; n++) {
    const ev = cryo(n)
    if (n === 11) ev.note = 'unparseable'
    if (n === 30) ev.note = 'conflict'
    await pub.publish(ev)
  }
  t.true(await until(() => sink.stats().written + sink.stats().rejected === 50, 15_000), JSON.stringify(sink.stats()))
  t.like(sink.stats(), { received: 50, written: 48, rejected: 2 })
  await pub.close()
  await sink.close()
  await proxy.close()
})

test('batches are sized by bytes too: 500 events of 3 KB are stored under a 1 MiB request limit, not gzipped on loopback', async (t) => {
  const db = await fakeInflux((lines) => (lines.join('\n').length > (1 << 20) + 4096 ? { status: 413 } : { status: 204 }))
  t.teardown(() => db.close())
  const { proxy, sink, pub } = await sinkWith(db.url)
  for (let n = 0; n < 500; n++) {
    const ev = cryo(n)
    ev.note = 'y'.repeat(3000)
    await pub.publish(ev)
  }
  t.true(await until(() => sink.stats().written === 500, 15_000), JSON.stringify(sink.stats()))
  t.is(sink.stats().rejected, 0)
  t.true(db.seen.every((r) => r.lines.join('\n').length <= (1 << 20) + 4096), 'no request over the limit was sent')
  // InfluxDB on loopback: compressing would cost CPU on both ends and save nothing.
  t.true(db.seen.every((r) => !r.gz), 'bodies to a loopback server are not gzipped by default')
  await pub.close()
  await sink.close()
  await proxy.close()
})

test('Retry-After is honoured on 429', async (t) => {
  let first = true
  const db = await fakeInflux(() => {
    if (first) {
      first = false
      return { status: 429, headers: { 'Retry-After': '1' }, body: '{"error":"slow down"}' }
    }
    return { status: 204 }
  })
  t.teardown(() => db.close())
  const { proxy, sink, pub } = await sinkWith(db.url, { retry: { min: 0.01, max: 0.02 } })
  await pub.publish(cryo(1))
  t.true(await until(() => sink.stats().written === 1, 10_000))
  const gap = db.seen[1].at - db.seen[0].at
  t.true(gap >= 900, `waited ${gap} ms, as Retry-After asked (the backoff alone is 10 ms)`)
  t.is(sink.stats().retries, 1)
  await pub.close()
  await sink.close()
  await proxy.close()
})

test('a field-type conflict in a real InfluxDB: the partial write is read, the other points written, the bad one rejected', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  await db.createDatabase('conflict')
  const { proxy, sink, pub } = await pipeline(db, 'conflict', { flushInterval: 0.3 })
  await pub.publish(cryo(1))
  t.true(await until(() => sink.stats().written === 1, 10_000))
  for (let n = 2; n <= 7; n++) {
    const ev = cryo(n)
    if (n === 4) ev.kelvin = 'warm' // a string into a float field
    await pub.publish(ev)
  }
  t.true(await until(() => sink.stats().written + sink.stats().rejected === 7, 10_000), JSON.stringify(sink.stats()))
  t.like(sink.stats(), { written: 6, rejected: 1 })
  t.regex(sink.stats().lastError, /partial write|field type conflict/)
  const got = rows(await db.query('conflict', 'SELECT seq FROM cryo'))
  t.deepEqual(got.map((r) => r.seq).sort((a, b) => a - b), [1, 2, 3, 5, 6, 7])
  await pub.close()
  await sink.close()
  await proxy.close()
})

function ingestChild(args) {
  const { spawn } = require('node:child_process')
  const path = require('node:path')
  const bin = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
  const child = spawn(process.execPath, [bin, 'ingest', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const r = { child, err: '' }
  child.stderr.on('data', (d) => (r.err += d))
  r.exit = new Promise((res) => child.on('close', (code) => res(code)))
  return r
}

cli('juice ingest checks the database at start: a missing one is an error, --create-db creates it', async (t) => {
  const db = await startInflux()
  t.teardown(() => db.dispose())
  const proxy = await startProxy()
  t.teardown(() => proxy.close())
  const missing = ingestChild(['Cryo', '--uri', proxy.backend, '--influx', db.url, '--db', 'nosuchdb'])
  t.is(await missing.exit, 1, missing.err)
  t.regex(missing.err, /juice ingest: database "nosuchdb" does not exist at http:\/\/127\.0\.0\.1:\d+ \(create it, or pass --create-db\)/)
  const down = ingestChild(['Cryo', '--uri', proxy.backend, '--influx', 'http://127.0.0.1:9', '--db', 'x'])
  t.is(await down.exit, 1)
  t.regex(down.err, /InfluxDB at http:\/\/127\.0\.0\.1:9 does not answer \(ECONNREFUSED\)/)
  const created = ingestChild(['Cryo', '--uri', proxy.backend, '--influx', db.url, '--db', 'made', '--create-db', '--flush-interval', '0.1'])
  t.teardown(() => created.child.kill('SIGKILL'))
  await subscribed(proxy, 1, 30_000) // a freshly spawned juice ingest: Node, the CLI and the addon load first
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(cryo(1))
  await pub.close()
  // Until juice ingest has created the database, the query fails: count that as nothing yet.
  const count = async () => rows(await db.query('made', 'SELECT count(seq) FROM Cryo').catch(() => []))[0]?.count ?? 0
  const end = Date.now() + 10_000
  while ((await count()) < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
  t.is(await count(), 1, created.err)
  created.child.kill('SIGTERM')
  t.is(await created.exit, 0, created.err)
})

cli('juice ingest with InfluxDB down: the first Ctrl-C says what it is waiting for, the second stops and says what was lost', async (t) => {
  let writes = 0
  const db = await fakeInflux(() => {
    writes++
    return { status: 503, body: '{"error":"down"}' }
  })
  // /ping and SHOW DATABASES answer like a healthy 1.x server; writes fail with 503.
  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/ping')) return res.writeHead(204).end()
    if (req.url.startsWith('/query')) return res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"results":[{"series":[{"values":[["lab"]]}]}]}')
    req.pipe(http.request(db.url + req.url, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode, up.headers)
      up.pipe(res)
    }))
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    server.close()
    db.close()
  })
  const proxy = await startProxy()
  t.teardown(() => proxy.close())
  const ing = ingestChild(['Cryo', '--uri', proxy.backend, '--influx', `http://127.0.0.1:${server.address().port}`, '--db', 'lab', '--flush-interval', '0.1'])
  t.teardown(() => ing.child.kill('SIGKILL'))
  await subscribed(proxy, 1, 30_000) // a freshly spawned juice ingest: Node, the CLI and the addon load first
  const pub = new j.PublisherAsync(proxy.frontend)
  for (let n = 0; n < 5; n++) await pub.publish(cryo(n))
  await pub.close()
  t.true(await until(() => writes >= 2, 10_000), 'the sink is retrying')
  ing.child.kill('SIGINT')
  t.true(await until(() => /stopping: writing 5 buffered points to InfluxDB \(giving up after 30 s; Ctrl-C again to stop now\)/.test(ing.err), 3000), ing.err)
  ing.child.kill('SIGINT')
  t.is(await ing.exit, 1)
  t.regex(ing.err, /stopped at once; lost 5 buffered points; received 5, written 0/)
})
}
