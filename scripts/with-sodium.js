// Runs a command (cargo, napi) with libsodium built from source and wired into libzmq's build:
//   node scripts/with-sodium.js cargo test --workspace
// libzmq is compiled by the zmq-sys crate, which cannot be told where libsodium is; its C++ flags
// (CXXFLAGS_<target>, see .cargo/config.toml) and our link step (SODIUM_LIB_DIR, see
// crates/juice-core/build/sodium.rs) can. So first `cargo build -p juice-sodium` builds libsodium
// from the source bundled in the libsodium-sys-stable crate (no system package, no network), then
// the command runs with those variables pointing at the result. A SODIUM_LIB_DIR already set (a
// libsodium of your own) is respected and the bundled build is skipped.
'use strict'
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

function fail(msg) {
  console.error(`[juice-messaging] ${msg}`)
  process.exit(1)
}

/** The target triple being built: --target if given, else the host's. */
function targetOf(args) {
  const i = args.indexOf('--target')
  if (i >= 0 && args[i + 1]) return args[i + 1]
  const vv = execFileSync('rustc', ['-vV'], { encoding: 'utf8' })
  return /^host: (.+)$/m.exec(vv)[1].trim()
}

/** Builds juice-sodium and returns libsodium's install directory (with include/ and lib/). */
function buildSodium(target) {
  const args = ['build', '-p', 'juice-sodium', '--message-format=json-render-diagnostics']
  if (target) args.push('--target', target)
  const r = spawnSync('cargo', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 })
  if (r.error) fail(`cannot run cargo: ${r.error.message}`)
  if (r.status !== 0) fail('building libsodium (cargo build -p juice-sodium) failed; see the messages above')
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const m = JSON.parse(line)
    if (m.reason === 'build-script-executed' && m.package_id.includes('libsodium-sys-stable')) {
      const installed = path.join(m.out_dir, 'installed')
      if (fs.existsSync(path.join(installed, 'include', 'sodium.h'))) return installed
    }
  }
  fail('libsodium-sys-stable did not report where it installed libsodium (expected OUT_DIR/installed)')
}

const [cmd, ...args] = process.argv.slice(2)
if (!cmd) fail('usage: node scripts/with-sodium.js COMMAND [ARGS...]')
const target = targetOf(args)
const env = { ...process.env }
if (!env.SODIUM_LIB_DIR) {
  const dir = buildSodium(args.includes('--target') ? target : null)
  env.SODIUM_LIB_DIR = path.join(dir, 'lib')
  const key = `CXXFLAGS_${target.replace(/-/g, '_')}`
  const curve = target.includes('msvc') ? '/DZMQ_USE_LIBSODIUM=1 /DZMQ_HAVE_CURVE=1' : '-DZMQ_USE_LIBSODIUM=1 -DZMQ_HAVE_CURVE=1'
  env[key] = `${curve} -I${path.join(dir, 'include')}`
}
const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit', shell: process.platform === 'win32' })
if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`)
process.exit(r.status ?? 1)
