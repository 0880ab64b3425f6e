// `npm run bench:ingest`: InfluxDB ingestion, measured in one run on one machine.
//   (a) influxd's own limit: pre-built line protocol POSTed by a tight loop (2 requests in flight);
//   (b) the native engine end to end: publisher -> proxy -> sink -> influxd, each its own process;
//   (c) the JavaScript engine, the same way;
//   (d) each sink's CPU per point, and the CPU per point of the publisher, proxy and influxd,
//       from which the best any sink could do on this machine follows (2 cores / their sum);
//   (e) the receive floor: CPU per event of a bare libzmq SUB (juice-bench, no JSON, no
//       conversion) fed the same stream, which every ZeroMQ sink pays before converting anything;
// then exactness: a 300,000-event burst through a lossless proxy, counted back with a query, and
// the same with influxd killed (SIGKILL) and restarted mid-burst. Medians of BENCH_ROUNDS rounds.
'use strict'
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const { execSync } = require('node:child_process')
const { role, freePort, median } = require('./run')
const { startInflux, rows } = require('../__test__/influx-helpers')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const N = Number(process.env.BENCH_INGEST_N ?? 200_000)
const BURST = Number(process.env.BENCH_INGEST_BURST ?? 300_000)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / 100
  } catch {
    return NaN
  }
}

async function count(db, name) {
  const [c] = rows(await db.query(name, 'SELECT count(seq) FROM telemetry'))
  return c?.count ?? 0
}

/** One end-to-end run with `engine`; returns the sink's report plus every process's CPU per point. */
async function endToEnd(db, name, engine, n, { lossless = false, during } = {}) {
  await db.createDatabase(name)
  const [f, b] = [await freePort(), await freePort()]
  const front = `tcp://127.0.0.1:${f}`
  const back = `tcp://127.0.0.1:${b}`
  const proxy = role('juice', ['proxy', front, back, lossless ? 'lossless' : 'unbounded'])
  await proxy.line((l) => l.ready)
  const sink = role('script', ['sink', engine, back, db.url, name, String(n)])
  await sink.line((l) => l.ready)
  await sleep(300)
  const influxPid = () => db.proc?.pid
  const before = { proxy: cpuSeconds(proxy.pid), influx: cpuSeconds(influxPid()) }
  const pub = role('juice', ['pub', front, String(n), '100', '0', 'async'])
  const pubDone = pub.line((l) => l.sent !== undefined)
  if (during) await during()
  const res = await sink.line((l) => l.rate !== undefined, 600_000)
  const pubReport = await pubDone
  // The publisher reports its own CPU: it may have exited before /proc could be read.
  const pubCpu = pubReport.cpuSeconds
  res.proxyUs = ((cpuSeconds(proxy.pid) - before.proxy) / n) * 1e6
  res.influxUs = during ? NaN : ((cpuSeconds(influxPid()) - before.influx) / n) * 1e6
  res.pubUs = (pubCpu / n) * 1e6
  res.pub = pubReport
  res.stored = await count(db, name)
  for (const p of [pub, proxy, sink]) p.kill()
  return res
}

async function influxLimit(db, name, n) {
  await db.createDatabase(name)
  const w = role('script', ['influx-writer', db.url, name, String(n), '2'])
  const r = await w.line((l) => l.rate !== undefined)
  r.stored = await count(db, name)
  return r
}

/** (e): a bare libzmq subscriber's CPU per event on the same publisher -> proxy stream. */
async function receiveFloor(n) {
  const raw = path.join(__dirname, '..', 'target', 'release', 'juice-bench')
  if (!fs.existsSync(raw)) execSync('node scripts/with-sodium.js cargo build --release -p juice-bench', { cwd: path.join(__dirname, '..'), stdio: 'inherit' })
  const [f, b] = [await freePort(), await freePort()]
  const front = `tcp://127.0.0.1:${f}`
  const back = `tcp://127.0.0.1:${b}`
  const proxy = role('juice', ['proxy', front, back, 'unbounded'])
  await proxy.line((l) => l.ready)
  const sub = role('raw', ['sub', back, String(n), '1'])
  await sub.line((l) => l.ready)
  await sleep(300)
  const pub = role('juice', ['pub', front, String(n), '100', '0', 'async'])
  const r = await sub.line((l) => l.received !== undefined)
  const us = (cpuSeconds(sub.pid) / r.received) * 1e6
  for (const p of [pub, proxy, sub]) p.kill()
  return { us, received: r.received }
}

const fmt = (x) => Math.round(x).toLocaleString('en-US')

async function main() {
  const db = await startInflux()
  const a = []
  const runs = { native: [], js: [] }
  const floor = []
  let burst
  let killed
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const fl = await receiveFloor(N)
      floor.push(fl)
      console.log(`  round ${r + 1}: (e) bare libzmq SUB ${fl.us.toFixed(2)} us/event (${fl.received} received)`)
      const lim = await influxLimit(db, `limit${r}`, N)
      a.push(lim)
      console.log(`  round ${r + 1}: (a) influxd alone ${fmt(lim.rate)} points/s (stored ${lim.stored}/${N})`)
      for (const engine of ['native', 'js']) {
        const res = await endToEnd(db, `${engine}${r}`, engine, N)
        runs[engine].push(res)
        console.log(
          `  round ${r + 1}: (${engine === 'native' ? 'b' : 'c'}) ${engine} ${fmt(res.rate)} points/s, sink CPU ${res.cpuUsPerPoint.toFixed(2)} us/point, ` +
            `publisher ${res.pubUs.toFixed(2)}, proxy ${res.proxyUs.toFixed(2)}, influxd ${res.influxUs.toFixed(2)} us/point, stored ${res.stored}/${N}, sink RSS ${res.rssMb} MB`,
        )
      }
    }
    burst = await endToEnd(db, 'burst', 'native', BURST, { lossless: true })
    console.log(`  burst: ${burst.stored}/${BURST} stored, ${JSON.stringify(burst)}`)
    killed = await endToEnd(db, 'killed', 'native', BURST, {
      lossless: true,
      during: async () => {
        await sleep(1000)
        db.proc.kill('SIGKILL')
        await new Promise((r) => db.proc.once('exit', r))
        await sleep(2000)
        await db.start()
      },
    })
    console.log(`  burst with influxd killed: ${killed.stored}/${BURST} stored, ${JSON.stringify(killed)}`)
  } finally {
    await db.dispose()
  }
  const m = (xs, k) => median(xs.map((x) => x[k]))
  const limit = m(a, 'rate')
  const others = m(runs.native, 'pubUs') + m(runs.native, 'proxyUs') + m(runs.native, 'influxUs')
  const bound = (os.cpus().length * 1e6) / others
  const row = (label, xs) =>
    `| ${label} | ${fmt(m(xs, 'rate'))} | ${((100 * m(xs, 'rate')) / limit).toFixed(0)}% | ${m(xs, 'cpuUsPerPoint').toFixed(2)} us | ${m(xs, 'rssMb')} MB | ${xs.map((x) => `${x.stored}/${N}`).join(', ')} |`
  const md = [
    '### 8. InfluxDB ingestion (TelemetrySink -> InfluxDB 1.6, Debian)',
    '',
    `${new Date().toISOString()}, ${os.cpus()[0]?.model} (${os.cpus().length} cores), ${N.toLocaleString('en-US')} events per round, median of ${ROUNDS}; every process on the same 2 cores.`,
    '',
    '| path | points/s stored | of (a) | sink CPU per point | sink RSS | stored / published |',
    '|---|---|---|---|---|---|',
    `| (a) influxd alone: pre-built line protocol, 5,000 per request, 2 in flight | ${fmt(limit)} | 100% | - | - | ${a.map((x) => `${x.stored}/${N}`).join(', ')} |`,
    row('(b) native engine: publisher -> proxy -> sink -> influxd', runs.native),
    row('(c) JavaScript engine, the same way', runs.js),
    '',
    `CPU per point of the other processes in (b): publisher ${m(runs.native, 'pubUs').toFixed(2)} us, proxy ${m(runs.native, 'proxyUs').toFixed(2)} us, influxd ${m(runs.native, 'influxUs').toFixed(2)} us. ` +
      `With a sink that cost nothing, ${os.cpus().length} cores would carry at most ${fmt(bound)} points/s, ${((100 * bound) / limit).toFixed(0)}% of (a). ` +
      `(e) A bare libzmq SUB (no JSON, no conversion) fed the same stream uses ${m(floor, 'us').toFixed(2)} us of CPU per event: the receive floor of any ZeroMQ sink here.`,
    '',
    `Exactness (native engine, lossless proxy): a ${BURST.toLocaleString('en-US')}-event burst stored ${burst.stored}/${BURST} ` +
      `(lost ${burst.lost}, overflow ${burst.overflow}; rejected ${burst.rejected}: the publisher's end markers, which carry no field); with influxd killed (SIGKILL) 1 s in and restarted 2 s later: ${killed.stored}/${BURST} ` +
      `(retries ${killed.retries}, lost ${killed.lost}, overflow ${killed.overflow}).`,
    '',
  ].join('\n')
  fs.writeFileSync(path.join(__dirname, 'results', 'ingest.md'), md)
  console.log('\n' + md)
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}

module.exports = { endToEnd, receiveFloor }
