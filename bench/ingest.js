// `npm run bench:ingest`: events/s stored in a real InfluxDB 1.x through the TelemetrySink, end to
// end (publisher -> proxy -> sink -> influxd, each its own process), and the sink's own CPU time
// per point. Also times the line protocol conversion alone. Median of BENCH_ROUNDS rounds.
'use strict'
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const { spawn } = require('node:child_process')
const { role, freePort, median } = require('./run')
const { startInflux, rows } = require('../__test__/influx-helpers')
const j = require('..')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const N = Number(process.env.BENCH_INGEST_N ?? 200_000)

function sinkRole(args) {
  const p = spawn(process.execPath, [path.join(__dirname, 'roles', 'sink.js'), ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = []
  p.stdout.on('data', (d) => lines.push(...String(d).trim().split('\n').map((l) => JSON.parse(l))))
  return {
    line: async (pred) => {
      for (;;) {
        const hit = lines.find(pred)
        if (hit) return hit
        if (p.exitCode !== null) throw new Error('sink role exited')
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    kill: () => p.kill('SIGKILL'),
  }
}

function lineProtocolCost() {
  class Telemetry extends j.Event {
    static measurement = 'telemetry_lp'
    static tags = ['path']
    static integerFields = ['seq']
  }
  const events = Array.from({ length: 100_000 }, (_, i) => new Telemetry({ path: 'qpu0.fridge.mxc', kelvin: 0.0123, seq: i, t: 1e12, time: '2026-11-27T09:30:00.123456Z' }))
  let bytes = 0
  const t0 = process.hrtime.bigint()
  for (const e of events) bytes += e.toLineProtocol().length
  const lpNs = Number(process.hrtime.bigint() - t0) / events.length
  const t1 = process.hrtime.bigint()
  for (const e of events) bytes += JSON.stringify(e).length
  const jsonNs = Number(process.hrtime.bigint() - t1) / events.length
  return { lpNs, jsonNs, bytes }
}

async function main() {
  const db = await startInflux()
  const results = []
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const name = `bench${r}`
      await db.createDatabase(name)
      const [f, b] = [await freePort(), await freePort()]
      const front = `tcp://127.0.0.1:${f}`
      const back = `tcp://127.0.0.1:${b}`
      const proxy = role('juice', ['proxy', front, back])
      await proxy.line((l) => l.ready)
      const sink = sinkRole(['sink', back, db.url, name, String(N)])
      await sink.line((l) => l.ready)
      await new Promise((res) => setTimeout(res, 300))
      const pub = role('juice', ['pub', front, String(N), '100', '0', 'async'])
      const res = await sink.line((l) => l.rate !== undefined)
      const [count] = rows(await db.query(name, 'SELECT count(seq) FROM telemetry'))
      res.stored = count?.count ?? 0
      console.log(`  round ${r + 1}: ${res.rate.toLocaleString('en-US')} points/s, sink CPU ${res.cpuUsPerPoint.toFixed(2)} us/point, stored ${res.stored}/${N}, sink RSS ${res.rssMb} MB`)
      results.push(res)
      for (const p of [pub, proxy, sink]) p.kill()
    }
  } finally {
    await db.dispose()
  }
  const lp = lineProtocolCost()
  const md = [
    '### 8. InfluxDB ingestion (TelemetrySink -> InfluxDB 1.6, Debian)',
    '',
    `${new Date().toISOString()}, ${os.cpus()[0]?.model} (${os.cpus().length} cores), ${N.toLocaleString('en-US')} events per round, median of ${ROUNDS}.`,
    '',
    '| | value |',
    '|---|---|',
    `| points/s stored, publisher -> proxy -> sink -> influxd | ${Math.round(median(results.map((x) => x.rate))).toLocaleString('en-US')} |`,
    `| sink CPU per point (receive, convert, batch, gzip, HTTP) | ${median(results.map((x) => x.cpuUsPerPoint)).toFixed(2)} us |`,
    `| stored / published (every round) | ${results.map((x) => `${x.stored}/${N}`).join(', ')} |`,
    `| toLineProtocol() per event (JS) / JSON.stringify per event | ${(lp.lpNs / 1000).toFixed(2)} us / ${(lp.jsonNs / 1000).toFixed(2)} us |`,
    '',
  ].join('\n')
  fs.writeFileSync(path.join(__dirname, 'results', 'ingest.md'), md)
  console.log('\n' + md)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
