// What the benchmark scripts share: role processes speaking one JSON object per stdout line
// (bench/roles/*.js and the raw Rust reference, target/release/juice-bench), and the arithmetic
// of medians and ratios.
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const readline = require('node:readline')

const root = path.join(__dirname, '..')
const RAW = path.join(root, 'target', 'release', 'juice-bench')
const baselineArg = process.argv.indexOf('--baseline')
const BASELINE = baselineArg > 0 ? path.resolve(process.argv[baselineArg + 1]) : null

const CMD = {
  raw: (args) => [RAW, args],
  juice: (args) => [process.execPath, [path.join(__dirname, 'roles', 'juice.js'), ...args]],
  // The same role script, loading the package from the --baseline checkout.
  juiceBase: (args) => [process.execPath, [path.join(__dirname, 'roles', 'juice.js'), ...args], { JUICE_PACKAGE: BASELINE }],
  zeromqjs: (args) => [process.execPath, [path.join(__dirname, 'roles', 'zeromqjs.js'), ...args]],
  // bench/ingest.js: a role script named by its first argument (sink, influx-writer).
  script: (args) => [process.execPath, [path.join(__dirname, 'roles', `${args[0]}.js`), ...args]],
}

/** A role process; `line(pred)` resolves with its first stdout JSON line matching `pred`. */
function role(impl, args) {
  const [cmd, argv, env] = CMD[impl](args)
  const p = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const lines = []
  const waiters = []
  let err = ''
  p.stderr.on('data', (d) => (err += d))
  readline.createInterface({ input: p.stdout }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l))
    } catch {
      return
    }
    for (const w of waiters.splice(0)) w()
  })
  p.on('exit', () => {
    for (const w of waiters.splice(0)) w()
  })
  return {
    pid: p.pid,
    async line(pred, ms = 120_000) {
      const end = Date.now() + ms
      for (;;) {
        const hit = lines.find(pred)
        if (hit) return hit
        if (p.exitCode !== null || p.signalCode !== null || Date.now() > end) {
          throw new Error(`${impl} ${args[0]}: no result (exit ${p.exitCode}): ${err.slice(-2000)}`)
        }
        await new Promise((r) => {
          waiters.push(r)
          setTimeout(r, 200)
        })
      }
    },
    closeStdin: () => p.stdin.end(),
    kill: () => p.kill('SIGKILL'),
    exited: () => new Promise((r) => (p.exitCode !== null ? r() : p.on('exit', r))),
  }
}

function rssMbOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return Math.round((Number(m[1]) / 1024) * 10) / 10
  } catch {
    return null
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (x) => (x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'))
const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}x` : 'n/a')

module.exports = { BASELINE, RAW, role, rssMbOf, median, fmt, ratio }
