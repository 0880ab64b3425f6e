// `npm run bench`: every scenario of issue 4, each a pipeline of three processes (publisher,
// proxy, subscriber) on tcp loopback, alternating implementations within every round so that they
// share the machine's noise. Reports medians of ROUNDS rounds and ratios against baselines
// measured in the same run. Writes bench/results/latest.md, latest.json and an SVG chart.
//
//   npm run bench                 all scenarios, 3 rounds
//   BENCH_ROUNDS=5 npm run bench  more rounds
//   npm run bench -- --only 1,7   some scenarios (written to bench/results/partial.*, so that a
//                                 partial run never replaces the full table)
//   npm run bench -- --baseline DIR --only 9
//                                 this checkout against another built checkout (a git worktree of
//                                 an older commit), same scenarios alternated in every round
'use strict'
const { execSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { chart } = require('./chart')
const { freePort } = require('../__test__/helpers')
const { BASELINE, RAW, role, rssMbOf, median, fmt, ratio } = require('./harness')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const onlyArg = process.argv.indexOf('--only')
const ONLY = onlyArg > 0 ? new Set(process.argv[onlyArg + 1].split(',').map(Number)) : null

const root = path.join(__dirname, '..')
/**
 * Runs one pipeline and returns the subscriber's result (plus proxy figures).
 * spec: { proxy: ['raw','bare'] | ['raw','juice'] | ['juice'] | ['zeromqjs'], pub: [impl, ...extra],
 *         sub: [impl, ...extra], n, size, rate, onProgress }
 */
async function pipeline(spec) {
  const [fp, bp] = [await freePort(), await freePort()]
  const front = `tcp://127.0.0.1:${fp}`
  const back = `tcp://127.0.0.1:${bp}`
  const [pimpl, ...pextra] = spec.proxy
  const proxy = role(pimpl, ['proxy', ...pextra, front, back])
  const procs = [proxy]
  try {
    await proxy.line((l) => l.ready)
    const [simpl, ...sextra] = spec.sub
    const sub = role(simpl, ['sub', back, String(spec.n), ...sextra])
    procs.push(sub)
    await sub.line((l) => l.ready)
    await new Promise((r) => setTimeout(r, 300))
    const [uimpl, ...uextra] = spec.pub
    const pub = role(uimpl, ['pub', front, String(spec.n), String(spec.size), String(spec.rate ?? 0), ...uextra])
    procs.push(pub)
    let proxyRss1m = null
    if (spec.watchProgress) {
      sub.line((l) => l.progress).then(() => (proxyRss1m = rssMbOf(proxy.pid)), () => {})
    }
    const paused = spec.watchPause ? await sub.line((l) => l.paused) : null
    const result = await sub.line((l) => l.rate !== undefined)
    await pub.line((l) => l.sent !== undefined)
    const proxyRss = rssMbOf(proxy.pid)
    proxy.closeStdin()
    await Promise.race([proxy.exited(), new Promise((r) => setTimeout(r, 3000))])
    return { ...result, paused, proxyRssMb: proxyRss, proxyRss1mMb: proxyRss1m }
  } finally {
    for (const p of procs) p.kill()
  }
}


const IMPL = {
  juiceAsync: { proxy: ['juice'], pub: ['juice', 'async'], sub: ['juice', 'async', '1'] },
  juiceBlocking: { proxy: ['juice'], pub: ['juice', 'blocking'], sub: ['juice', 'blocking', '1'] },
  zeromqjs: { proxy: ['zeromqjs'], pub: ['zeromqjs'], sub: ['zeromqjs'] },
  raw: { proxy: ['raw', 'bare'], pub: ['raw'], sub: ['raw', '1'] },
}

/** Runs `impls` alternately for ROUNDS rounds; returns { name: [results...] }. */
async function rounds(impls, rounds = ROUNDS) {
  const out = Object.fromEntries(Object.keys(impls).map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const [name, spec] of Object.entries(impls)) {
      const res = await pipeline(spec)
      out[name].push(res)
      log(`  round ${r + 1} ${name}: ${fmt(res.rate)} ev/s${res.p50_us !== undefined ? `, p50 ${res.p50_us} us, p99 ${res.p99_us} us` : ''}, received ${fmt(res.received)}/${fmt(spec.n)}`)
    }
  }
  return out
}

const log = (s) => console.log(s)
const report = { date: new Date().toISOString(), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, rounds: ROUNDS, scenarios: {} }
const md = []

function section(title, rows, notes = []) {
  md.push(`### ${title}`, '', '| | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), '', ...notes.map((n) => `- ${n}`), '')
}

async function s1() {
  log('1. end-to-end throughput, async publisher -> async subscriber')
  const n = { juiceAsync: 500_000, zeromqjs: 200_000, raw: 2_000_000 }
  const impls = Object.fromEntries(Object.entries(n).map(([k, v]) => [k, { ...IMPL[k], n: v, size: 100 }]))
  const r = await rounds(impls)
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v.map((x) => x.rate))]))
  report.scenarios.throughputAsync = { medians: m, runs: r }
  section('1. Throughput, PublisherAsync -> SubscriberAsync (~100 B events, events/s)', [
    ['juice-messaging', fmt(m.juiceAsync)],
    ['zeromq.js v6 baseline', fmt(m.zeromqjs)],
    ['raw Rust/libzmq pipeline', fmt(m.raw)],
    ['juice / zeromq.js (target >= 4x)', ratio(m.juiceAsync, m.zeromqjs)],
    ['juice / raw (target >= 0.50x)', ratio(m.juiceAsync, m.raw)],
  ])
}

async function s2() {
  log('2. end-to-end throughput, blocking publisher -> blocking subscriber')
  const impls = { juiceBlocking: { ...IMPL.juiceBlocking, n: 500_000, size: 100 }, zeromqjs: { ...IMPL.zeromqjs, n: 200_000, size: 100 } }
  const r = await rounds(impls)
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v.map((x) => x.rate))]))
  report.scenarios.throughputBlocking = { medians: m, runs: r }
  section('2. Throughput, PublisherBlocking -> SubscriberBlocking (events/s)', [
    ['juice-messaging', fmt(m.juiceBlocking)],
    ['zeromq.js v6 baseline (async; it has no blocking API)', fmt(m.zeromqjs)],
    ['juice / zeromq.js (target >= 4x)', ratio(m.juiceBlocking, m.zeromqjs)],
  ])
}

async function s3() {
  log('3. subscription scale: 1, 1,000 and 100,000 topic filters')
  const mk = (f) => ({ ...IMPL.juiceAsync, sub: ['juice', 'async', String(f)], n: 500_000, size: 100 })
  const r = await rounds({ f1: mk(1), f1000: mk(1000), f100000: mk(100_000) })
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v.map((x) => x.rate))]))
  report.scenarios.subscriptionScale = { medians: m, runs: r }
  section('3. Subscription scale (juice async, events/s)', [
    ['1 filter', fmt(m.f1)],
    ['1,000 filters', fmt(m.f1000)],
    ['100,000 filters', fmt(m.f100000)],
    ['100,000 / 1 (target >= 0.90)', ratio(m.f100000, m.f1)],
  ])
}

async function s4() {
  log('4. latency at a steady 10,000 events/s')
  const n = 30_000
  const r = await rounds({ juiceAsync: { ...IMPL.juiceAsync, n, size: 100, rate: 10_000 }, raw: { ...IMPL.raw, n, size: 100, rate: 10_000 } })
  const m = {}
  for (const [k, v] of Object.entries(r)) m[k] = { p50: median(v.map((x) => x.p50_us)), p99: median(v.map((x) => x.p99_us)) }
  report.scenarios.latency = { medians: m, runs: r }
  section('4. One-way latency at 10,000 events/s, publish() to get() returning (us)', [
    ['juice p50 / p99', `${m.juiceAsync.p50} / ${m.juiceAsync.p99}`],
    ['raw p50 / p99', `${m.raw.p50} / ${m.raw.p99}`],
    ['p50 juice / raw (target <= 1.5x)', ratio(m.juiceAsync.p50, m.raw.p50)],
    ['p99 juice / raw (target <= 2x)', ratio(m.juiceAsync.p99, m.raw.p99)],
  ], [
    'Both publishers first send 2 s of unmeasured events at the same rate (JIT, first subscription), then 30,000 measured ones.',
    'Both sleep between events rather than spin (a spinning publisher takes a core from the pipeline); the stamp is read after waking.',
  ])
}

async function s5() {
  log('5. slow subscriber: bounded memory, exact drop count')
  const n = 300_000
  const runs = []
  for (const maxQueue of [10_000, 100_000]) {
    const res = await pipeline({ ...IMPL.juiceAsync, sub: ['juice', 'async', '1', String(maxQueue), '4000'], n, size: 100, watchPause: true })
    const st = res.stats
    runs.push({ maxQueue, res })
    log(`  maxQueue ${maxQueue}: RSS while paused ${res.paused.rssMb} MB, queued ${res.paused.queued}, dropped ${st.dropped}, delivered ${st.delivered}`)
  }
  report.scenarios.slowSubscriber = runs
  const rows = []
  for (const { maxQueue, res } of runs) {
    const st = res.stats
    rows.push([`maxQueue ${fmt(maxQueue)}: RSS while not reading`, `${res.paused.rssMb} MB (queued ${fmt(res.paused.queued)})`])
    const exact = st.delivered + st.dropped + st.queued === st.received && st.received === n + 20
    rows.push([`maxQueue ${fmt(maxQueue)}: received = delivered + dropped?`, `${fmt(st.received)} = ${fmt(st.delivered)} + ${fmt(st.dropped)} (${fmt(n)} events + 20 end markers): ${exact ? 'exact' : 'MISMATCH'}`])
  }
  section('5. Slow subscriber (reads nothing for 4 s while 300,000 events arrive)', rows)
}

async function s6() {
  log('6. soak: 10 million events')
  const n = Number(process.env.BENCH_SOAK ?? 10_000_000)
  const res = await pipeline({ ...IMPL.juiceAsync, n, size: 100, watchProgress: true })
  report.scenarios.soak = res
  log(`  received ${fmt(res.received)}, sub RSS ${res.rss1mMb} -> ${res.rssMb} MB, proxy RSS ${res.proxyRss1mMb} -> ${res.proxyRssMb} MB`)
  section(`6. Soak: ${fmt(n)} events`, [
    ['received', fmt(res.received)],
    ['subscriber RSS after 1M / at end', `${res.rss1mMb} / ${res.rssMb} MB (${ratio(res.rssMb, res.rss1mMb)}, target <= 1.10x)`],
    ['proxy RSS after 1M / at end', `${res.proxyRss1mMb} / ${res.proxyRssMb} MB (${ratio(res.proxyRssMb, res.proxyRss1mMb)}, target <= 1.10x)`],
    ['throughput', `${fmt(res.rate)} events/s`],
  ])
}

async function s7() {
  log('7. proxy alone: juice Proxy vs a bare zmq::proxy loop (raw publisher and subscriber)')
  const n = 2_000_000
  const r = await rounds({ bare: { ...IMPL.raw, n, size: 100 }, juice: { ...IMPL.raw, proxy: ['raw', 'juice'], n, size: 100 } })
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v.map((x) => x.rate))]))
  report.scenarios.proxyAlone = { medians: m, runs: r }
  section('7. Proxy alone (events/s through the proxy)', [
    ['bare zmq::proxy', fmt(m.bare)],
    ['juice Proxy', fmt(m.juice)],
    ['juice / bare (target >= 0.95)', ratio(m.juice, m.bare)],
  ])
}

async function sizes() {
  log('chart: throughput against payload size')
  const series = { 'juice-messaging': [], 'zeromq.js': [], 'raw libzmq': [] }
  const sizesB = [64, 256, 1024, 4096, 16384, 65536]
  for (const size of sizesB) {
    const cap = (base) => Math.max(5000, Math.min(base, Math.floor(4e8 / size)))
    const r = await rounds(
      {
        'juice-messaging': { ...IMPL.juiceAsync, n: cap(300_000), size },
        'zeromq.js': { ...IMPL.zeromqjs, n: cap(150_000), size },
        'raw libzmq': { ...IMPL.raw, n: cap(1_000_000), size },
      },
      Math.min(ROUNDS, 3),
    )
    for (const k of Object.keys(series)) series[k].push(median(r[k].map((x) => x.rate)))
  }
  report.scenarios.payloadSizes = { sizes: sizesB, series }
  const svg = ONLY ? 'partial-vs-size.svg' : 'throughput-vs-size.svg'
  fs.writeFileSync(path.join(__dirname, 'results', svg), chart(sizesB, series))
  md.push('### Throughput against payload size', '', '| payload | ' + Object.keys(series).join(' | ') + ' |', '|---|' + Object.keys(series).map(() => '---|').join(''))
  sizesB.forEach((s, i) => void md.push(`| ${s} B | ${Object.values(series).map((v) => fmt(v[i])).join(' | ')} |`))
  md.push('', `![throughput against payload size](${svg})`, '')
}

async function baseline() {
  if (BASELINE === null) throw new Error('scenario 9 compares against a build: pass --baseline DIR')
  log(`9. this checkout against ${BASELINE}, async and blocking end to end`)
  const base = (spec) => ({ proxy: ['juiceBase'], pub: ['juiceBase', ...spec.pub.slice(1)], sub: ['juiceBase', ...spec.sub.slice(1)] })
  const r = await rounds({
    async: { ...IMPL.juiceAsync, n: 500_000, size: 100 },
    asyncBase: { ...base(IMPL.juiceAsync), n: 500_000, size: 100 },
    blocking: { ...IMPL.juiceBlocking, n: 500_000, size: 100 },
    blockingBase: { ...base(IMPL.juiceBlocking), n: 500_000, size: 100 },
  })
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v.map((x) => x.rate))]))
  report.scenarios.baseline = { baseline: BASELINE, medians: m, runs: r }
  section(`9. This checkout against ${path.basename(BASELINE)} (events/s)`, [
    ['async, this checkout', fmt(m.async)],
    ['async, baseline', fmt(m.asyncBase)],
    ['async ratio', ratio(m.async, m.asyncBase)],
    ['blocking, this checkout', fmt(m.blocking)],
    ['blocking, baseline', fmt(m.blockingBase)],
    ['blocking ratio', ratio(m.blocking, m.blockingBase)],
  ])
}

async function main() {
  if (!fs.existsSync(RAW)) {
    log('building the raw reference pipeline (cargo build --release -p juice-bench)')
    execSync('node scripts/with-sodium.js cargo build --release -p juice-bench', { cwd: root, stdio: 'inherit' })
  }
  const all = [s1, s2, s3, s4, s5, s6, s7, sizes, baseline]
  for (const [i, fn] of all.entries()) {
    if (ONLY ? !ONLY.has(i + 1) : fn === baseline) continue
    await fn()
  }
  const head = [
    '# Benchmark results',
    '',
    `${report.date}, ${report.cpu} (${report.cores} cores), Node ${process.version}, ${ROUNDS} rounds, medians.`,
    'Three processes (publisher, proxy, subscriber) on tcp loopback; ~100-byte JSON `Telemetry` events,',
    'topic `qpu0.fridge.mxc`, subscriber filter `qpu0`. Implementations alternate within each round.',
    '',
  ]
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  const name = ONLY ? 'partial' : 'latest'
  fs.writeFileSync(path.join(__dirname, 'results', `${name}.md`), [...head, ...md].join('\n'))
  fs.writeFileSync(path.join(__dirname, 'results', `${name}.json`), JSON.stringify(report, null, 2))
  log('\n' + [...head, ...md].join('\n'))
}

if (require.main === module) main().catch((e) => {
  console.error(e)
  process.exit(1)
})
module.exports = { pipeline, median, role, freePort }
