// A throwaway InfluxDB 1.x server for the tests: Debian's `influxd` on loopback, with its data in
// a temporary directory. `.ci/run` installs it; without it these tests fail and say how to get it.
'use strict'
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { freePort } = require('./helpers')
const { spawn, spawnSync } = require('node:child_process')

function influxdPath() {
  const r = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error('influxd is not installed: apt-get install influxdb (npm test installs it when run as root on Debian/Ubuntu)')
  return r.stdout.trim()
}

async function startInflux() {
  const bin = influxdPath()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-influx-'))
  const [http, rpc] = [await freePort(), await freePort()]
  const conf = path.join(dir, 'influxdb.conf')
  fs.writeFileSync(
    conf,
    [
      'reporting-disabled = true',
      `bind-address = "127.0.0.1:${rpc}"`,
      '[meta]',
      `  dir = "${dir}/meta"`,
      '[data]',
      `  dir = "${dir}/data"`,
      `  wal-dir = "${dir}/wal"`,
      '  query-log-enabled = false',
      '[http]',
      `  bind-address = "127.0.0.1:${http}"`,
      '  log-enabled = false',
      '[monitor]',
      '  store-enabled = false',
      '',
    ].join('\n'),
  )
  const url = `http://127.0.0.1:${http}`
  const server = { url, dir, proc: null, log: '' }
  server.start = async () => {
    server.proc = spawn(bin, ['run', '-config', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
    server.proc.stderr.on('data', (d) => (server.log = (server.log + d).slice(-4000)))
    server.proc.stdout.on('data', (d) => (server.log = (server.log + d).slice(-4000)))
    const end = Date.now() + 20_000
    while (Date.now() < end) {
      try {
        const r = await fetch(`${url}/ping`)
        if (r.status === 204) return
      } catch {}
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`influxd did not come up on ${url}: ${server.log}`)
  }
  server.stop = async () => {
    const p = server.proc
    if (p === null || p.exitCode !== null) return
    const gone = new Promise((r) => p.on('exit', r))
    p.kill('SIGTERM')
    await gone
    server.proc = null
  }
  server.query = async (db, q) => {
    const r = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ns&q=${encodeURIComponent(q)}`, { method: 'POST' })
    // Nanosecond times exceed 2^53: keep the leading (time) column of each row as exact text.
    const body = JSON.parse((await r.text()).replace(/\[(-?\d{16,})(?=[,\]])/g, '["$1"'))
    if (body.error || body.results?.[0]?.error) throw new Error(`query ${q}: ${body.error ?? body.results[0].error}`)
    return body.results[0].series ?? []
  }
  server.createDatabase = (db) => server.query(db, `CREATE DATABASE "${db}"`)
  server.dispose = async () => {
    await server.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  await server.start()
  return server
}

/** Rows of a series as objects keyed by column. */
function rows(series) {
  return series.flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))))
}

module.exports = { startInflux, rows }
