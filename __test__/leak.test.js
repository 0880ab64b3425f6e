// 10,000 create-use-close cycles of each class, each class in a fresh process: file descriptors,
// threads and RSS must return to where they started.
// Tolerances: fds +0, threads +0 (measured after a 200-cycle warm-up, so lazily created pools
// are already there). RSS: at most +12 MiB over the second 5,000 cycles (a leak of 2.5 KiB or
// more per cycle exceeds it) and +48 MiB overall. RSS is not a precise gauge: glibc caches up to
// 40 MiB of freed thread stacks and keeps free lists per arena (both turned off below), and napi
// finalizers of a script that never yields run late, so one sample after 10,000 cycles mixes a
// high-water mark with a leak; the second half's growth separates them.
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
    // The child runs up to 240 s while this worker blocks and reports nothing: keep ava's 2-minute
    // inactivity timeout (for the whole run) from firing meanwhile.
    t.timeout(300_000)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-leak-'))
    try {
      const out = execFileSync(process.execPath, ['--expose-gc', child, cls, String(CYCLES), dir], {
        encoding: 'utf8',
        timeout: 240_000,
        // Freed thread stacks stay cached (up to 40 MiB) and each thread's malloc arena keeps its
        // own free lists: both make RSS climb with no leak. Turning them off leaves leaks visible.
        env: { ...process.env, GLIBC_TUNABLES: 'glibc.pthread.stack_cache_size=0:glibc.malloc.arena_max=1' },
      })
      const r = JSON.parse(out.trim().split('\n').pop())
      t.log(
        `${cls}: ${r.cycles} cycles in ${r.ms} ms; fds ${r.before.fds} -> ${r.after.fds}, threads ${r.before.threads} -> ${r.after.threads}, ` +
          `RSS ${r.before.rssMb} -> ${r.mid.rssMb} -> ${r.after.rssMb} MiB`,
      )
      t.true(r.after.fds <= r.before.fds, 'file descriptors')
      t.true(r.after.threads <= r.before.threads, 'threads')
      t.true(r.after.rssMb - r.mid.rssMb <= 12, 'RSS still growing in the second half')
      t.true(r.after.rssMb - r.before.rssMb <= 48, 'RSS')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
}
