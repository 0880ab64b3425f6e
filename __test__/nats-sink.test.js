// TelemetrySink on a JetStream stream through a durable consumer (issue 19): a sink SIGKILLed
// mid-stream and started again under the same name stores every event, each once.
'use strict'
const test = require('ava')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { j } = require('./helpers')
const { startCluster } = require('./nats-cluster')
const { startInflux, rows } = require('./influx-helpers')
const { Cryo } = require('./fixtures/durable-classes')

const CHILD = path.join(__dirname, 'fixtures', 'durable-sink-child.js')

function sinkChild(args) {
  const p = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  let err = ''
  p.stderr.on('data', (d) => (err += d))
  readline.createInterface({ input: p.stdout }).on('line', (l) => lines.push(JSON.parse(l)))
  const exited = new Promise((r) => p.on('exit', (code, signal) => r({ code, signal })))
  return { p, lines, exited, err: () => err }
}

test('a durable sink SIGKILLed mid-stream and restarted under the same name stores every event once', async (t) => {
  const cluster = await startCluster(3)
  const db = await startInflux()
  t.teardown(async () => {
    await cluster.stop()
    await db.dispose()
  })
  await db.createDatabase('durable')
  const natsPrefix = 'sink.juice'
  await j.ensureStream(cluster.url(0), { name: 'CRYO', types: [Cryo], replicas: 3, natsPrefix })
  const N = 6000
  const t0 = Date.UTC(2026, 10, 30, 12)
  const pub = new j.PublisherAsync(cluster.url(1), { jetstream: true, natsPrefix, linger: 60 })
  for (let seq = 0; seq < N; seq++) await pub.publish(new Cryo({ qpu: `q${seq % 4}`, seq, kelvin: 0.01 + seq / 1e6, time: new Date(t0 + seq) }))
  await pub.close()
  t.is(pub.stats().stored, N)

  const count = async () => rows(await db.query('durable', 'SELECT count(seq) FROM cryo'))[0]?.count ?? 0
  const args = [cluster.url(2), 'CRYO', 'ingest-1', db.url, 'durable']
  const first = sinkChild(args)
  const end = Date.now() + 60_000
  while ((await count()) < N / 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  const atKill = await count()
  first.p.kill('SIGKILL')
  await first.exited
  t.true(atKill >= N / 3 && atKill < N, `killed mid-stream (${atKill} of ${N} stored)`)

  const second = sinkChild(args)
  while ((await count()) < N && Date.now() < end + 30_000) await new Promise((r) => setTimeout(r, 50))
  await new Promise((r) => setTimeout(r, 500))
  second.p.kill('SIGTERM')
  const { code } = await second.exited
  t.is(code, 0, second.err())
  const closed = second.lines.find((l) => l.closed)?.closed
  t.log(`stored ${atKill} before the SIGKILL; the second sink received ${closed?.received}, wrote ${closed?.written}; InfluxDB holds ${await count()}`)
  t.is(await count(), N, 'every event stored, none twice')
  const [last] = rows(await db.query('durable', 'SELECT last(seq) FROM cryo'))
  t.is(last.last, N - 1)
  t.is(closed.rejected + closed.lost, 0)
  t.true(closed.received <= N, 'the second sink did not read the stream from the start')

  // juice ingest does the same from the command line: a new durable name reads the whole stream.
  await db.createDatabase('durable_cli')
  const cli = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
  const classes = path.join(__dirname, 'fixtures', 'durable-classes.js')
  const ingest = spawn(process.execPath, [cli, 'ingest', '--classes', classes, '--uri', cluster.url(0), '--prefix', natsPrefix, '--stream', 'CRYO', '--durable', 'cli-1', '--influx', db.url, '--db', 'durable_cli', '--flush-interval', '0.1'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let ingestErr = ''
  ingest.stderr.on('data', (d) => (ingestErr += d))
  const ingestExit = new Promise((r) => ingest.on('exit', (code) => r(code)))
  const cliCount = async () => rows(await db.query('durable_cli', 'SELECT count(seq) FROM cryo'))[0]?.count ?? 0
  const cliEnd = Date.now() + 60_000
  while ((await cliCount()) < N && Date.now() < cliEnd) await new Promise((r) => setTimeout(r, 50))
  ingest.kill('SIGTERM')
  t.is(await ingestExit, 0, ingestErr)
  t.is(await cliCount(), N, `juice ingest --durable stored the stream: ${ingestErr}`)
  t.regex(ingestErr, /js engine/)
})

test('durable options are checked: stream and durable together, a nats:// URI, the js engine', (t) => {
  t.throws(() => new j.SubscriberAsync('nats://127.0.0.1:1', { stream: 'S' }), { message: /stream and durable go together/ })
  t.throws(() => new j.SubscriberAsync('nats://127.0.0.1:1', { manualAck: true }), { message: /need stream and durable/ })
  t.throws(() => new j.SubscriberAsync('nats://127.0.0.1:1', { stream: 'S', durable: 'a.b' }), { message: /letters, digits/ })
  t.throws(() => new j.SubscriberAsync('tcp://127.0.0.1:1', { stream: 'S', durable: 'd' }), { message: /needs a nats:\/\/ URI/ })
  t.throws(() => new j.TelemetrySink({ uri: 'nats://127.0.0.1:1', influx: { version: 1, url: 'http://127.0.0.1:1', database: 'x' }, engine: 'native', durable: { stream: 'S', name: 'd' } }), { message: /needs engine: 'js'/ })
  const live = new j.SubscriberAsync('nats://127.0.0.1:1')
  t.throws(() => live.acknowledge(1), { message: /manualAck: true/ })
  live.close()
})
