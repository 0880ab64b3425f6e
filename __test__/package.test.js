// Installs the packages as a user gets them: `npm pack` the root package and the linux-x64-gnu
// platform package, install both tarballs into a fresh project with no Rust toolchain on PATH and
// no registry (offline, empty cache), then run a publish/subscribe roundtrip through an embedded
// Proxy from CommonJS and from ESM, and the `juice` binary.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const TRIPLE = 'linux-x64-gnu'
const isTarget = process.platform === 'linux' && process.arch === 'x64' && Boolean(process.report.getReport().header.glibcVersionRuntime)

function du(dir) {
  let n = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    n += e.isDirectory() ? du(p) : fs.statSync(p).size
  }
  return n
}
const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`

/** A bin directory holding only node, npm and sh: whatever else the install needs is missing. */
function bareBin(dir) {
  fs.mkdirSync(dir)
  fs.symlinkSync(process.execPath, path.join(dir, 'node'))
  const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())
  fs.symlinkSync(npmCli, path.join(dir, 'npm'))
  fs.symlinkSync('/bin/sh', path.join(dir, 'sh'))
  return dir
}

const ROUNDTRIP_CJS = `
const j = require('juice-messaging')
class Ping extends j.Event { topic() { return 'pkg.test' } }
;(async () => {
  const proxy = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
  const sub = new j.SubscriberAsync(proxy.backend).subscribe(Ping, { topic: 'pkg' })
  const pub = new j.PublisherAsync(proxy.frontend)
  await pub.publish(new Ping({ n: 42, via: 'cjs' }))
  const ev = await sub.get(10)
  console.log(JSON.stringify({ n: ev.n, via: ev.via, isPing: ev instanceof Ping, addon: require.resolve('juice-messaging-${TRIPLE}') }))
  await pub.close(); await sub.close(); await proxy.close()
})().catch((e) => { console.error(e); process.exit(1) })
`

const ROUNDTRIP_ESM = `
import { Event, Proxy, PublisherBlocking, SubscriberBlocking, generateKeyPair } from 'juice-messaging'
class Ping extends Event {}
const proxy = await Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0' })
const sub = new SubscriberBlocking(proxy.backend).subscribe(Ping)
const pub = new PublisherBlocking(proxy.frontend)
pub.publish(new Ping({ n: 7, via: 'esm' }))
const ev = sub.get(10)
console.log(JSON.stringify({ n: ev.n, via: ev.via, key: generateKeyPair().publicKey.length }))
pub.close(); sub.close(); await proxy.close()
`

// Only linux-x64-gnu is built here; on other machines the test is reported as skipped, not passed.
;(isTarget ? test : test.skip)('packed tarballs install without Rust or a registry and work from CJS, ESM and the CLI', (t) => {
  // npm pack and install, then the roundtrips, block this worker for minutes with no test event:
  // keep ava's 2-minute inactivity timeout (for the whole run) from firing meanwhile.
  t.timeout(300_000)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-pack-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  // 1. Pack (scripts skipped: dist/ and the addon were built by `npm test` already).
  execFileSync(process.execPath, [path.join(root, 'scripts', 'stage-platform.js'), TRIPLE], { stdio: 'pipe' })
  const pack = (dir) => {
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: dir, encoding: 'utf8' })
    const [info] = JSON.parse(out)
    return { file: path.join(work, info.filename), size: info.size, unpacked: info.unpackedSize, files: info.files.map((f) => f.path) }
  }
  const main = pack(root)
  const plat = pack(path.join(root, 'npm', TRIPLE))
  t.true(main.files.includes('dist/index.js') && main.files.includes('dist/index.mjs') && main.files.includes('dist/index.d.ts'))
  t.true(main.files.includes('dist/cli/main.js'))
  t.true(main.files.includes('LICENSE'), 'the Apache-2.0 text package.json declares')
  // npm runs install-time scripts (`prepare` included) when a tarball is installed, and npm 11
  // warns about each: the package has none (`npm start`, `npm test` and `npm run build` build).
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) t.is(manifest.scripts[s], undefined, `no ${s} script`)
  t.false(main.files.some((f) => f.endsWith('.node')), 'the root package carries no binary')
  t.deepEqual(plat.files.sort(), ['README.md', `juice-messaging.${TRIPLE}.node`, 'package.json'])

  // 2. Install into a fresh project: no cargo/rustc on PATH, offline, empty cache.
  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  const env = { HOME: work, PATH: bareBin(path.join(work, 'bin')), npm_config_cache: path.join(work, 'cache'), npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
  const which = spawnSync('sh', ['-c', 'command -v cargo || command -v rustc'], { env, encoding: 'utf8' })
  t.not(which.status, 0, `cargo must not be reachable, found ${which.stdout}`)
  // The package's own runtime dependencies (plain JavaScript, such as ws) come as tarballs too,
  // standing in for a registry; what must not be needed is a compiler or a download of a binary.
  const deps = Object.keys(manifest.dependencies ?? {}).map((name) => pack(path.join(root, 'node_modules', name)).file)
  const install = spawnSync('npm', ['install', '--no-package-lock', plat.file, main.file, ...deps], { cwd: app, env, encoding: 'utf8', timeout: 120_000 })
  t.is(install.status, 0, install.stderr)
  t.notRegex(install.stderr, /warn/i, 'npm install of the tarballs prints no warning')
  t.false(fs.existsSync(path.join(app, 'node_modules', 'juice-messaging', 'target')), 'nothing was compiled')

  // 3. Roundtrips.
  fs.writeFileSync(path.join(app, 'cjs.js'), ROUNDTRIP_CJS)
  fs.writeFileSync(path.join(app, 'esm.mjs'), ROUNDTRIP_ESM)
  const run = (file) => {
    const r = spawnSync('node', [file], { cwd: app, env, encoding: 'utf8', timeout: 60_000 })
    t.is(r.status, 0, r.stderr)
    return JSON.parse(r.stdout)
  }
  const cjs = run('cjs.js')
  t.like(cjs, { n: 42, via: 'cjs', isPing: true })
  t.true(cjs.addon.includes(path.join('node_modules', `juice-messaging-${TRIPLE}`)), 'the addon came from the platform package')
  t.deepEqual(run('esm.mjs'), { n: 7, via: 'esm', key: 40 })
  const cli = spawnSync(path.join(app, 'node_modules', '.bin', 'juice'), ['keygen', '--json'], { cwd: app, env, encoding: 'utf8' })
  t.is(cli.status, 0, cli.stderr)
  t.regex(cli.stdout, /"publicKey":"[^"]{40}"/)
  // `npx juice` outside a project finds an unrelated package; the package's own name works.
  const alias = spawnSync(path.join(app, 'node_modules', '.bin', 'juice-messaging'), ['keygen', '--json'], { cwd: app, env, encoding: 'utf8' })
  t.is(alias.status, 0, alias.stderr)

  // 4. Size.
  const addon = path.join(app, 'node_modules', `juice-messaging-${TRIPLE}`, `juice-messaging.${TRIPLE}.node`)
  const sections = spawnSync('readelf', ['-S', addon], { encoding: 'utf8' })
  if (sections.status === 0) t.notRegex(sections.stdout, /\.symtab|\.debug_info/, 'the release addon is stripped')
  const installed = du(path.join(app, 'node_modules', 'juice-messaging')) + du(path.join(app, 'node_modules', `juice-messaging-${TRIPLE}`))
  t.log(
    `tarballs: juice-messaging ${mib(main.size)} (${main.files.length} files), juice-messaging-${TRIPLE} ${mib(plat.size)}; ` +
      `installed ${mib(installed)} (addon ${mib(fs.statSync(addon).size)})`,
  )
  t.true(installed < 16 * 1048576, `installed size ${mib(installed)}`)

  // 5. Without the platform package: one line saying what to do, no stack trace.
  fs.rmSync(path.join(app, 'node_modules', `juice-messaging-${TRIPLE}`), { recursive: true })
  const bare = spawnSync(path.join(app, 'node_modules', '.bin', 'juice'), ['keygen'], { cwd: app, env, encoding: 'utf8' })
  t.is(bare.status, 1)
  t.is(bare.stderr.trim().split('\n').length, 1, bare.stderr)
  t.regex(bare.stderr, /^juice: juice-messaging has no native binary for this platform \(linux-x64-gnu, Node v[\d.]+\)\. Fix: .*reinstall so that npm fetches the optional dependency juice-messaging-linux-x64-gnu/)
  t.notRegex(bare.stderr, /npm run build:native/, 'no advice that only works in a clone')
})
