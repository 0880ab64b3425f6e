// Builds the release addon for a platform package with zig as the C/C++ toolchain and linker
// (cargo-zigbuild), so that it loads on old and other Linux systems:
//   node scripts/build-portable.js [TRIPLE...] [--stage]
// TRIPLE is a platform package name suffix (default linux-x64-gnu). For glibc targets the binary
// links against glibc 2.17 (manylinux2014's baseline, as napi-rs's own packages) and carries its
// C++ runtime statically (zig's libc++), so it needs no libstdc++. libsodium is built for the
// same target from libsodium-sys-stable's bundled source (see with-sodium.js). The result is
// target/portable/juice-messaging.TRIPLE.node; --stage also copies it into npm/TRIPLE/.
// Tools come from the registries and stay inside target/: ziglang (PyPI) in a venv, and
// cargo-zigbuild (crates.io). Skips the build when the binary is newer than the sources.
// Several stale triples build at once, each in its own process, target directory and zig cache:
// a single build leaves one of two cores idle for minutes (libzmq's build script, fat LTO).
'use strict'
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const tools = path.join(root, 'target', 'portable-tools')
const out = path.join(root, 'target', 'portable')

const TARGETS = {
  'linux-x64-gnu': 'x86_64-unknown-linux-gnu.2.17',
  'linux-arm64-gnu': 'aarch64-unknown-linux-gnu.2.17',
  'linux-x64-musl': 'x86_64-unknown-linux-musl',
}

function fail(msg) {
  console.error(`[build-portable] ${msg}`)
  process.exit(1)
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', opts.capture ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8', maxBuffer: 256 << 20, ...opts })
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`)
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status})`)
  return r.stdout
}

function newest(dir) {
  let t = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) t = Math.max(t, newest(p))
    else if (/\.(rs|toml|c|h)$/.test(e.name)) t = Math.max(t, fs.statSync(p).mtimeMs)
  }
  return t
}

/** A PATH where `python3 -m ziglang` works (a venv in target/) and cargo-zigbuild is found. */
function toolPath() {
  const venv = path.join(tools, 'zig-venv')
  const py = path.join(venv, 'bin', 'python3')
  if (spawnSync(py, ['-m', 'ziglang', 'version'], { stdio: 'ignore' }).status !== 0) {
    console.log('[build-portable] installing zig (PyPI ziglang) into target/portable-tools (once)')
    run('python3', ['-m', 'venv', venv])
    run(py, ['-m', 'pip', 'install', '--quiet', 'ziglang'])
  }
  const bin = path.join(tools, 'bin')
  if (!fs.existsSync(path.join(bin, 'cargo-zigbuild'))) {
    console.log('[build-portable] installing cargo-zigbuild (crates.io) into target/portable-tools (once)')
    run('cargo', ['install', '--quiet', '--locked', 'cargo-zigbuild', '--root', tools])
  }
  return [path.join(venv, 'bin'), bin, process.env.PATH].join(path.delimiter)
}

/** Rust's standard library for `rustTarget`, from rustup (once). */
function ensureRustTarget(rustTarget) {
  const r = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' })
  if (r.error) fail(`rustup is needed to add the ${rustTarget} standard library: ${r.error.message}`)
  if (r.stdout.split('\n').includes(rustTarget)) return
  console.log(`[build-portable] adding Rust's ${rustTarget} standard library (rustup target add, once)`)
  run('rustup', ['target', 'add', rustTarget])
}

/**
 * For musl: libsodium's configure links a test program per SIMD flag (-msse3 ... -mrdrnd), and
 * zig builds the whole of musl's libc.a for each CPU feature set a static link asks for, about
 * 50 s a flag on a cold cache (8-10 min in CI). Linked dynamically, a test needs only zig's libc
 * stub. LDFLAGS reaches configure's tests only (libsodium.a itself is made by ar, unchanged), and
 * the three answers are what those tests give when linked statically and run here, so the
 * library comes out byte for byte the same (checked: same sha256 of libsodium.a).
 */
function sodiumConfigureEnv(rustTarget) {
  if (!rustTarget.endsWith('-musl')) return {}
  return {
    SODIUM_LDFLAGS: '-dynamic',
    ax_cv_check_cCATCHABLE_SEGV: 'yes',
    ax_cv_check_cCATCHABLE_ABRT: 'no',
    lt_cv_prog_compiler_static_works: 'yes',
  }
}

const args = process.argv.slice(2)
const triples = args.filter((a) => !a.startsWith('--'))
const stage = args.includes('--stage')
main(triples.length > 0 ? triples : ['linux-x64-gnu'])

function main(list) {
  for (const triple of list) if (!TARGETS[triple]) fail(`no portable build for ${triple}; known: ${Object.keys(TARGETS).join(', ')}`)
  const stale = list.filter((t) => !isFresh(t))
  // --lane: one build, started by the parent below with the tools already in place.
  if (args.includes('--lane') || stale.length <= 1) {
    for (const triple of list) build(triple, stage)
    return
  }
  for (const triple of stale) ensureRustTarget(rustTargetOf(triple))
  toolPath()
  console.log(`[build-portable] building ${stale.join(', ')} at once`)
  let pending = stale.length
  const failed = []
  for (const triple of stale) {
    const child = spawn(process.execPath, [__filename, triple, '--lane'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    prefixLines(child.stdout, process.stdout, triple)
    prefixLines(child.stderr, process.stderr, triple)
    child.on('exit', (code, signal) => {
      if (code !== 0) failed.push(`${triple} (${signal ?? `exit ${code}`})`)
      if (--pending > 0) return
      if (failed.length > 0) fail(`failed: ${failed.join(', ')}; its lines above carry its name`)
      // The fresh ones, and staging, in one pass now that every binary is there.
      for (const t of list) build(t, stage)
    })
  }
}

/** Copies `from` to `to` line by line, each line tagged with the build it came from. */
function prefixLines(from, to, tag) {
  let rest = ''
  from.setEncoding('utf8')
  from.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n')
    rest = lines.pop()
    for (const l of lines) to.write(`[${tag}] ${l}\n`)
  })
  from.on('end', () => {
    if (rest) to.write(`[${tag}] ${rest}\n`)
  })
}

function binaryOf(triple) {
  return path.join(out, `juice-messaging.${triple}.node`)
}

function rustTargetOf(triple) {
  return TARGETS[triple].replace(/\.[\d.]+$/, '')
}

function isFresh(triple) {
  const file = binaryOf(triple)
  return fs.existsSync(file) && fs.statSync(file).mtimeMs > Math.max(newest(path.join(root, 'crates')), fs.statSync(path.join(root, 'Cargo.lock')).mtimeMs)
}

function build(triple, stage) {
  const target = TARGETS[triple]
  const file = binaryOf(triple)
  if (!isFresh(triple)) {
    const rustTarget = rustTargetOf(triple)
    ensureRustTarget(rustTarget)
    // Its own target directory and cache (zig's, and cargo-zigbuild's wrapper scripts), so that
    // builds running at once never share a lock or write the same file.
    const dir = path.join(out, `build-${triple}`)
    const env = { ...process.env, PATH: toolPath(), XDG_CACHE_HOME: path.join(dir, 'cache') }
    console.log(`[build-portable] building ${triple} (${target}) with zig`)
    const json = run('cargo', ['zigbuild', '--release', '-p', 'juice-sodium', '--target', target, '--target-dir', dir, '--message-format=json-render-diagnostics'], { env: { ...env, ...sodiumConfigureEnv(rustTarget) }, capture: true })
    const sodium = json
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((m) => m.reason === 'build-script-executed' && m.package_id.includes('libsodium-sys-stable'))
    if (!sodium) fail('libsodium-sys-stable did not report its build directory')
    const installed = path.join(sodium.out_dir, 'installed')
    // cc reads CXXFLAGS_<target> with the triple as rustc sees it (no glibc suffix).
    env[`CXXFLAGS_${rustTarget.replace(/-/g, '_')}`] = `-DZMQ_USE_LIBSODIUM=1 -DZMQ_HAVE_CURVE=1 -I${path.join(installed, 'include')}`
    env.SODIUM_LIB_DIR = path.join(installed, 'lib')
    run('cargo', ['zigbuild', '--release', '-p', 'juice-node', '--target', target, '--target-dir', dir], { env })
    fs.copyFileSync(path.join(dir, rustTarget, 'release', 'libjuice_node.so'), file)
  }
  console.log(`[build-portable] ${path.relative(root, file)} (${(fs.statSync(file).size / 1048576).toFixed(2)} MiB)`)
  if (stage) {
    const dest = path.join(root, 'npm', triple, `juice-messaging.${triple}.node`)
    fs.copyFileSync(file, dest)
    console.log(`[build-portable] staged ${path.relative(root, dest)}`)
  }
}
