// 10,000 create-use-close cycles of each class, each class in a fresh process: file descriptors,
// threads and RSS must return to where they started.
// Tolerances: fds +0, threads +0 (measured after a 200-cycle warm-up, so lazily created pools
// are already there), RSS +32 MiB (a leak of 3.3 KiB or more per cycle would exceed it).
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const CYCLES = 10_000
const child = path.join(__dirname, 'fixtures', 'leak-child.js')

for (const cls of ['Proxy', 'CurveProxy', 'PublisherAsync', 'PublisherBlocking', 'SubscriberAsync', 'SubscriberBlocking']) {
  test.serial(`${cls}: ${CYCLES.toLocaleString('en-US')} create-use-close cycles leak no fds, threads or memory`, (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-leak-'))
    try {
      const out = execFileSync(process.execPath, ['--expose-gc', child, cls, String(CYCLES), dir], {
        encoding: 'utf8',
        timeout: 240_000,
      })
      const r = JSON.parse(out.trim().split('\n').pop())
      t.log(`${cls}: ${r.cycles} cycles in ${r.ms} ms; fds ${r.before.fds} -> ${r.after.fds}, threads ${r.before.threads} -> ${r.after.threads}, RSS ${r.before.rssMb} -> ${r.after.rssMb} MiB`)
      t.true(r.after.fds <= r.before.fds, 'file descriptors')
      t.true(r.after.threads <= r.before.threads, 'threads')
      t.true(r.after.rssMb - r.before.rssMb <= 32, 'RSS')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}
