// The API reference in docs/api is generated from the TSDoc comments (typedoc); it must build
// without warnings and match what is committed, so it never drifts from the code.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')

function files(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? files(p, base) : [path.relative(base, p)]
  })
}

test('docs/api is generated from the current TSDoc comments, without warnings', (t) => {
  // typedoc runs up to 120 s while this worker blocks and reports nothing: keep ava's 2-minute
  // inactivity timeout (for the whole run) from firing meanwhile.
  t.timeout(180_000)
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-docs-'))
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }))
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: root, encoding: 'utf8', timeout: 120_000 })
  t.is(r.status, 0, r.stdout + r.stderr)
  t.notRegex(r.stdout + r.stderr, /\[warning\]/)
  const fresh = files(out).sort()
  const committed = files(path.join(root, 'docs', 'api')).sort()
  t.deepEqual(committed, fresh, 'docs/api has other pages than the code: run npm run docs')
  for (const f of fresh) {
    const same = fs.readFileSync(path.join(out, f), 'utf8') === fs.readFileSync(path.join(root, 'docs', 'api', f), 'utf8')
    t.true(same, `docs/api/${f} is stale: run npm run docs`)
  }
  t.true(fresh.includes(path.join('classes', 'SubscriberAsync.md')))
})
