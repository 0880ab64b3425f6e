// `npm run bench:nats`: Juice events over NATS (issue 19), against baselines measured in the same
// run, alternating within every round on one loopback nats-server:
//   raw NATS      async-nats publisher -> server -> async-nats subscriber, 100 B, no Juice code
//   juice NATS    PublisherAsync -> server -> SubscriberAsync (JS event objects both ends)
//   juice ZeroMQ  the same two roles through a Proxy, the transport NATS is compared with
//   raw ZeroMQ    the Rust libzmq pipeline (publisher -> bare proxy -> subscriber), no Juice code
//   bridge        raw ZeroMQ publisher -> Proxy -> Bridge -> server -> raw NATS subscriber
// Medians of BENCH_ROUNDS rounds (default 3). Writes bench/results/nats.md and nats.json.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { freePort } = require('../__test__/helpers')
const { RAW, role, median, fmt, ratio } = require('./harness')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const N = Number(process.env.BENCH_EVENTS ?? 300_000)
const log = (s) => console.log(s)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function natsServerPath() {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin']) {
    if (dir && fs.existsSync(`${dir}/nats-server`)) return `${dir}/nats-server`
  }
  throw new Error('nats-server not found: run node scripts/ensure-nats.js')
}

async function startNats() {
  const port = await freePort()
  const p = spawn(natsServerPath(), ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  const url = `nats://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((r) => {
      const s = require('node:net').connect(port, '127.0.0.1', () => {
        s.destroy()
        r(true)
      })
      s.on('error', () => r(false))
    })
    if (up) return { url, stop: () => p.kill('SIGKILL') }
    await sleep(50)
  }
  p.kill('SIGKILL')
  throw new Error('nats-server did not start')
}

/** Starts `sub` roles, then `pub`, and returns the subscriber's result. */
async function run({ sub, pub, before = [], settleMs = 300 }) {
  const procs = []
  try {
    for (const [impl, args] of before) {
      const p = role(impl, args)
      procs.push(p)
      await p.line((l) => l.ready)
    }
    const s = role(...sub)
    procs.push(s)
    await s.line((l) => l.ready)
    await sleep(settleMs)
    const p = role(...pub)
    procs.push(p)
    const result = await s.line((l) => l.rate !== undefined)
    await p.line((l) => l.sent !== undefined)
    return result
  } finally {
    for (const p of procs) p.kill()
  }
}

async function main() {
  if (!fs.existsSync(RAW)) throw new Error(`${RAW} is missing: cargo build --release -p juice-bench`)
  const nats = await startNats()
  const zmqEnds = async () => [`tcp://127.0.0.1:${await freePort()}`, `tcp://127.0.0.1:${await freePort()}`]
  const n = String(N)
  const scenarios = {
    rawNats: async () => run({ sub: ['raw', ['natssub', nats.url, n]], pub: ['raw', ['natspub', nats.url, n, '100']] }),
    juiceNats: async () => run({ sub: ['juice', ['sub', nats.url, n, 'async', '1']], pub: ['juice', ['pub', nats.url, n, '100', '0', 'async']] }),
    juiceZmq: async () => {
      const [front, back] = await zmqEnds()
      return run({ before: [['juice', ['proxy', front, back]]], sub: ['juice', ['sub', back, n, 'async', '1']], pub: ['juice', ['pub', front, n, '100', '0', 'async']] })
    },
    rawZmq: async () => {
      const [front, back] = await zmqEnds()
      return run({ before: [['raw', ['proxy', 'bare', front, back]]], sub: ['raw', ['sub', back, n, '1']], pub: ['raw', ['pub', front, n, '100', '0']] })
    },
    bridge: async () => {
      const [front, back] = await zmqEnds()
      // The subscriber announces its interest every second; give the bridge two of those.
      return run({
        before: [['juice', ['proxy', front, back]], ['juice', ['bridge', front, back, nats.url]]],
        sub: ['raw', ['natssub', nats.url, n]],
        pub: ['raw', ['pub', front, n, '100', '0']],
        settleMs: 2500,
      })
    },
  }
  const runs = Object.fromEntries(Object.keys(scenarios).map((k) => [k, []]))
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, once] of Object.entries(scenarios)) {
        const res = await once()
        runs[name].push(res)
        log(`  round ${r + 1} ${name}: ${fmt(res.rate)} ev/s, received ${fmt(res.received)}/${fmt(N)}`)
      }
    }
  } finally {
    nats.stop()
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((x) => x.rate))]))
  const md = [
    '# NATS benchmark (npm run bench:nats)',
    '',
    `${new Date().toISOString()}; ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores; ${N.toLocaleString('en-US')} events of ~100 B per run; medians of ${ROUNDS} rounds, alternating.`,
    '',
    '| | events/s |',
    '|---|---|',
    `| raw NATS (Rust async-nats, one server) | ${fmt(m.rawNats)} |`,
    `| juice-messaging over NATS (JS events) | ${fmt(m.juiceNats)} |`,
    `| juice-messaging over ZeroMQ (JS events, through a Proxy) | ${fmt(m.juiceZmq)} |`,
    `| bridge: raw ZeroMQ publisher -> Proxy -> Bridge -> NATS -> raw subscriber | ${fmt(m.bridge)} |`,
    `| JS over NATS / JS over ZeroMQ (target >= 0.90x) | ${ratio(m.juiceNats, m.juiceZmq)} |`,
    `| raw ZeroMQ: Rust libzmq publisher -> bare proxy -> subscriber | ${fmt(m.rawZmq)} |`,
    `| a free bridge's ceiling: both raw hops in series on these cores, 1/(1/ZeroMQ + 1/NATS) | ${fmt(1 / (1 / m.rawZmq + 1 / m.rawNats))} |`,
    `| bridge / raw NATS (target >= 0.80x) | ${ratio(m.bridge, m.rawNats)} |`,
    `| bridge / the free bridge's ceiling | ${ratio(m.bridge, 1 / (1 / m.rawZmq + 1 / m.rawNats))} |`,
    '',
    'Every round, every scenario:',
    '',
    ...Object.entries(runs).map(([k, v]) => `- ${k}: ${v.map((x) => `${fmt(x.rate)} (${fmt(x.received)} received)`).join(', ')}`),
    '',
  ]
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true })
  fs.writeFileSync(path.join(__dirname, 'results', 'nats.md'), md.join('\n'))
  fs.writeFileSync(path.join(__dirname, 'results', 'nats.json'), JSON.stringify({ medians: m, runs }, null, 2))
  log(md.join('\n'))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
