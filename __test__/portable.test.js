// The portable linux-x64-gnu release binary (scripts/build-portable.js, run by `npm test`): its
// ELF asks for no glibc symbol newer than 2.17 and no libstdc++, and it works: a publish/subscribe
// roundtrip (with CURVE) through the package's JavaScript loading that binary.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const TRIPLE = 'linux-x64-gnu'
const binary = path.join(root, 'target', 'portable', `juice-messaging.${TRIPLE}.node`)
const isTarget = process.platform === 'linux' && process.arch === 'x64' && Boolean(process.report.getReport().header.glibcVersionRuntime)

const version = (v) => v.split('.').map(Number)
const newer = (a, b) => {
  const [x, y] = [version(a), version(b)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0)
  return false
}

;(isTarget ? test : test.skip)('the portable binary needs glibc 2.17 at most and no libstdc++', (t) => {
  t.true(fs.existsSync(binary), `${binary} is built by npm test (scripts/build-portable.js)`)
  const symbols = spawnSync('objdump', ['-T', binary], { encoding: 'utf8', maxBuffer: 64 << 20 })
  t.is(symbols.status, 0, symbols.stderr)
  const glibc = [...new Set(symbols.stdout.match(/GLIBC_[\d.]+/g))].map((s) => s.slice(6))
  const highest = glibc.reduce((a, b) => (newer(b, a) ? b : a), '0')
  t.log(`GLIBC versions used: ${glibc.sort((a, b) => (newer(a, b) ? 1 : -1)).join(', ')}; size ${(fs.statSync(binary).size / 1048576).toFixed(2)} MiB`)
  t.false(newer(highest, '2.17'), `highest GLIBC symbol version is ${highest}`)
  t.notRegex(symbols.stdout, /GLIBCXX|CXXABI/, 'no libstdc++ symbol versions')
  const dynamic = spawnSync('readelf', ['-d', binary], { encoding: 'utf8' })
  t.is(dynamic.status, 0, dynamic.stderr)
  const needed = [...dynamic.stdout.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1])
  t.log(`NEEDED: ${needed.join(', ')}`)
  t.false(needed.some((n) => /stdc\+\+|c\+\+|gcc_s/.test(n)), `no C++ runtime is needed: ${needed}`)
})

;(isTarget ? test : test.skip)('the portable binary runs a CURVE publish/subscribe roundtrip', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-portable-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true })
  // The package's runtime dependencies (plain JavaScript, such as ws), as an install would place them.
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    fs.cpSync(path.join(root, 'node_modules', name), path.join(dir, 'node_modules', name), { recursive: true })
  }
  fs.copyFileSync(binary, path.join(dir, `juice-messaging.${TRIPLE}.node`))
  const script = `
const j = require(${JSON.stringify(path.join(dir, 'dist', 'index.js'))})
class Ping extends j.Event {}
;(async () => {
  const server = j.generateKeyPair(), client = j.generateKeyPair()
  const proxy = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0', curve: { secretKey: server.secretKey, allowedClients: [client.publicKey] } })
  const curve = { serverKey: proxy.curvePublicKey, ...client }
  const sub = new j.SubscriberAsync(proxy.backend, { curve }).subscribe(Ping)
  const pub = new j.PublisherAsync(proxy.frontend, { curve })
  await pub.publish(new Ping({ n: 42 }))
  const ev = await sub.get(10)
  console.log(JSON.stringify({ n: ev.n, addon: require.resolve(${JSON.stringify(path.join(dir, `juice-messaging.${TRIPLE}.node`))}) }))
  await pub.close(); await sub.close(); await proxy.close()
})().catch((e) => { console.error(e); process.exit(1) })`
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 })
  t.is(r.status, 0, r.stderr)
  t.is(JSON.parse(r.stdout).n, 42)
})
