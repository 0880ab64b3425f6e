// The cross-built release binaries (scripts/build-portable.js, run by `npm test`):
// - linux-arm64-gnu: an AArch64 ELF needing glibc 2.17 at most and no libstdc++; its platform
//   package is packed, installed offline next to the root package, and runs a CURVE
//   publish/subscribe roundtrip and the CLI in an arm64 Node under qemu-user-static
//   (scripts/ensure-arm64-node.js provides both).
// - linux-x64-musl: an x86-64 ELF linked against musl's libc, with no glibc symbol versions and
//   no C++ runtime. No musl Node is served by the registries here, so it is not run.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const built = (triple) => path.join(root, 'target', 'portable', `juice-messaging.${triple}.node`)
const sysroot = path.join(root, 'target', 'arm64-root')
const arm64Node = path.join(sysroot, 'node', 'bin', 'node')
// Built and run only on the machine the test command provisions (Linux x64 with apt).
const isBuildHost = process.platform === 'linux' && process.arch === 'x64'

const version = (v) => v.split('.').map(Number)
const newer = (a, b) => {
  const [x, y] = [version(a), version(b)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0)
  return false
}

/** Machine, NEEDED libraries, GLIBC symbol versions and whether C++ runtime symbols are asked for. */
function elf(file) {
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' })
  const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' })
  const symbols = execFileSync('readelf', ['--dyn-syms', '-V', file], { encoding: 'utf8', maxBuffer: 64 << 20 })
  return {
    machine: /Machine:\s+(.+)/.exec(header)[1].trim(),
    needed: [...dynamic.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]),
    glibc: [...new Set(symbols.match(/GLIBC_[\d.]+/g) ?? [])].map((s) => s.slice(6)),
    cxx: /GLIBCXX|CXXABI/.test(symbols),
    mib: (fs.statSync(file).size / 1048576).toFixed(2),
  }
}

;(isBuildHost ? test : test.skip)('linux-arm64-gnu: an AArch64 binary that needs glibc 2.17 at most and no libstdc++', (t) => {
  const e = elf(built('linux-arm64-gnu'))
  const highest = e.glibc.reduce((a, b) => (newer(b, a) ? b : a), '0')
  t.log(`arm64: ${e.machine}, ${e.mib} MiB, highest GLIBC ${highest}, NEEDED ${e.needed.join(', ')}`)
  t.is(e.machine, 'AArch64')
  t.true(e.glibc.length > 0, 'links against glibc')
  t.false(newer(highest, '2.17'), `highest GLIBC symbol version is ${highest}`)
  t.false(e.cxx, 'no libstdc++ symbol versions')
  t.false(e.needed.some((n) => /stdc\+\+|c\+\+|gcc_s/.test(n)), `no C++ runtime is needed: ${e.needed}`)
})

;(isBuildHost ? test : test.skip)('linux-x64-musl: an x86-64 binary linked against musl, with no glibc symbol and no C++ runtime', (t) => {
  const e = elf(built('linux-x64-musl'))
  t.log(`musl: ${e.machine}, ${e.mib} MiB, NEEDED ${e.needed.join(', ') || '(none)'}`)
  t.is(e.machine, 'Advanced Micro Devices X86-64')
  t.deepEqual(e.glibc, [], 'no GLIBC symbol versions')
  t.false(e.cxx, 'no libstdc++ symbol versions')
  t.false(e.needed.some((n) => /^libc\.so\.6$|stdc\+\+|gcc_s|ld-linux/.test(n)), `no glibc or C++ runtime library: ${e.needed}`)
  t.true(e.needed.every((n) => n === 'libc.so' || n.startsWith('ld-musl')), `musl's libc only: ${e.needed}`)
})

const ROUNDTRIP = `
const j = require('juice-messaging')
class Ping extends j.Event { topic() { return 'arm.test' } }
;(async () => {
  const server = j.generateKeyPair(), client = j.generateKeyPair()
  const proxy = await j.Proxy.start({ frontend: 'tcp://127.0.0.1:0', backend: 'tcp://127.0.0.1:0', curve: { secretKey: server.secretKey, allowedClients: [client.publicKey] } })
  const curve = { serverKey: proxy.curvePublicKey, ...client }
  const sub = new j.SubscriberAsync(proxy.backend, { curve }).subscribe(Ping, { topic: 'arm' })
  const pub = new j.PublisherAsync(proxy.frontend, { curve })
  for (let n = 0; n < 1000; n++) await pub.publish(new Ping({ n }))
  let sum = 0
  for (let k = 0; k < 1000; k++) sum += (await sub.get(30)).n
  console.log(JSON.stringify({ arch: process.arch, sum, addon: require.resolve('juice-messaging-linux-arm64-gnu'), stats: proxy.stats().authAccepted }))
  await pub.close(); await sub.close(); await proxy.close()
})().catch((e) => { console.error(e); process.exit(1) })
`

;(isBuildHost ? test : test.skip)('linux-arm64-gnu: packed, installed offline and run under qemu: a CURVE roundtrip of 1,000 events and the CLI', (t) => {
  // Three qemu runs of up to 180 s each block this worker with no test event: keep ava's 2-minute
  // inactivity timeout (for the whole run) from firing meanwhile.
  t.timeout(600_000)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'juice-arm64-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  execFileSync(process.execPath, [path.join(root, 'scripts', 'stage-platform.js'), 'linux-arm64-gnu'], { stdio: 'pipe' })
  const pack = (dir) => {
    const [info] = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: dir, encoding: 'utf8' }))
    return path.join(work, info.filename)
  }
  const main = pack(root)
  const plat = pack(path.join(root, 'npm', 'linux-arm64-gnu'))
  const app = path.join(work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }))
  const env = { ...process.env, npm_config_cache: path.join(work, 'cache'), npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false' }
  const arm64 = (args) => spawnSync('qemu-aarch64-static', ['-L', sysroot, arm64Node, ...args], { cwd: app, env, encoding: 'utf8', timeout: 180_000 })
  // npm itself runs on the arm64 Node, so its platform checks (os, cpu, libc) are an arm64 machine's.
  const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim()) // bin/npm-cli.js
  // The package's runtime dependencies (plain JavaScript) come as tarballs too, standing in for a registry.
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const deps = Object.keys(manifest.dependencies ?? {}).map((name) => pack(path.join(root, 'node_modules', name)))
  const install = arm64([npmCli, 'install', '--no-package-lock', plat, main, ...deps])
  t.is(install.status, 0, install.stderr)
  t.true(fs.existsSync(path.join(app, 'node_modules', 'juice-messaging-linux-arm64-gnu')))
  fs.writeFileSync(path.join(app, 'roundtrip.js'), ROUNDTRIP)
  const r = arm64(['roundtrip.js'])
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.log(`under qemu: ${JSON.stringify(out)}`)
  t.is(out.arch, 'arm64')
  t.is(out.sum, (999 * 1000) / 2, 'every event arrived once')
  t.true(out.addon.includes(path.join('node_modules', 'juice-messaging-linux-arm64-gnu')))
  t.true(out.stats >= 2, 'both clients passed CURVE authentication')
  const cli = arm64([path.join(app, 'node_modules', 'juice-messaging', 'dist', 'cli', 'main.js'), 'keygen', '--json'])
  t.is(cli.status, 0, cli.stderr)
  t.regex(cli.stdout, /"publicKey":"[^"]{40}"/)
})
