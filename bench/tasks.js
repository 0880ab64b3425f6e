// `npm run bench:tasks`: task round trips, ours against upstream's Python client-server pair, in
// the same run: each pair is a server process and a client process on loopback; the client
// measures latency over N/10 sequential round trips (p50, p99) and tasks/s with INFLIGHT tasks
// outstanding. The pairs alternate within each round; medians of BENCH_ROUNDS rounds.
'use strict'
const path = require('node:path')
const fs = require('node:fs')
const os = require('node:os')
const net = require('node:net')
const { spawn } = require('node:child_process')
const { freePort, median } = require('./run')

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const N = Number(process.env.BENCH_TASKS_N ?? 20_000)
const INFLIGHT = Number(process.env.BENCH_TASKS_INFLIGHT ?? 64)
const PYTHON = path.join(__dirname, '..', '__test__', 'interop', '.venv', 'bin', 'python')
const PEER = path.join(__dirname, '..', '__test__', 'interop', 'tasks_peer.py')
const NODE_ROLE = path.join(__dirname, 'roles', 'tasks.js')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const SIDES = {
  node: { server: (port) => [process.execPath, [NODE_ROLE, 'server', String(port)]], client: (url) => [process.execPath, [NODE_ROLE, 'client', url, String(N), String(INFLIGHT)]] },
  python: { server: (port) => [PYTHON, [PEER, 'bench-server', String(port)]], client: (url) => [PYTHON, [PEER, 'bench', url, String(N), String(INFLIGHT)]] },
}

function run([cmd, args]) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  p.stdout.on('data', (d) => (out += d))
  return { p, result: new Promise((resolve, reject) => p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`${cmd} exited ${code}`))))) }
}

async function listening(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end()
        r(true)
      })
      s.on('error', () => r(false))
    })
    if (ok) return
    await sleep(50)
  }
  throw new Error(`nothing listens on ${port}`)
}

async function pair(clientSide, serverSide) {
  const port = await freePort()
  const server = run(SIDES[serverSide].server(port))
  // Servers run until killed below.
  server.result.catch(() => {})
  await listening(port)
  const client = run(SIDES[clientSide].client(`ws://127.0.0.1:${port}`))
  const r = await client.result
  server.p.kill('SIGKILL')
  return r
}

async function main() {
  if (!fs.existsSync(PYTHON)) throw new Error('the upstream package is not installed: run node scripts/ensure-python.js (npm test does)')
  const pairs = [
    ['node', 'node'],
    ['python', 'python'],
    ['node', 'python'],
    ['python', 'node'],
  ]
  const results = new Map(pairs.map((p) => [p.join('>'), []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const [c, s] of pairs) {
      const res = await pair(c, s)
      results.get(`${c}>${s}`).push(res)
      console.log(`  round ${r + 1}: ${c} client -> ${s} server: p50 ${res.p50_us.toFixed(0)} us, p99 ${res.p99_us.toFixed(0)} us, ${Math.round(res.rate).toLocaleString('en-US')} tasks/s`)
    }
  }
  const m = (xs, k) => median(xs.map((x) => x[k]))
  const base = results.get('python>python')
  const rows = pairs.map(([c, s]) => {
    const xs = results.get(`${c}>${s}`)
    return `| ${c} client -> ${s} server | ${m(xs, 'p50_us').toFixed(0)} us | ${m(xs, 'p99_us').toFixed(0)} us | ${Math.round(m(xs, 'rate')).toLocaleString('en-US')} | ${(m(xs, 'rate') / m(base, 'rate')).toFixed(2)}x |`
  })
  const md = [
    '### Tasks: round trips over WebSocket (`npm run bench:tasks`)',
    '',
    `${new Date().toISOString()}, ${os.cpus()[0]?.model} (${os.cpus().length} cores), Node ${process.version}; latency over ${N / 10} sequential round trips, tasks/s over ${N.toLocaleString('en-US')} tasks with ${INFLIGHT} in flight; medians of ${ROUNDS} rounds; upstream is orangeqs-juice-core 26.43.0 (tornado).`,
    '',
    '| pair | p50 | p99 | tasks/s | tasks/s vs upstream pair |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n')
  fs.writeFileSync(path.join(__dirname, 'results', 'tasks.md'), md)
  console.log('\n' + md)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
