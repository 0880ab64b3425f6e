// Builds what a fresh clone lacks: the native addon (when no binary for this platform is present
// locally or as an installed platform package) and the TypeScript output. Runs from `npm install`
// (prepare), `npm start`, `npm test` and `npm run bench`, and skips work that is up to date.
'use strict'
const { execSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' })

function newest(dir, exts) {
  let t = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) t = Math.max(t, newest(p, exts))
    else if (exts.some((x) => e.name.endsWith(x))) t = Math.max(t, fs.statSync(p).mtimeMs)
  }
  return t
}

function mtime(p) {
  try {
    return fs.statSync(p).mtimeMs
  } catch {
    return 0
  }
}

function triple() {
  const { platform, arch } = process
  if (platform !== 'linux') return `${platform}-${arch}`
  const glibc = process.report.getReport().header.glibcVersionRuntime
  return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
}

const binary = path.join(root, `juice-messaging.${triple()}.node`)
const crates = path.join(root, 'crates')
const haveSources = fs.existsSync(crates)
if (haveSources && mtime(binary) < Math.max(newest(crates, ['.rs', '.toml']), mtime(path.join(root, 'Cargo.lock')))) {
  console.log(`[juice-messaging] building the native addon (${path.basename(binary)}) with cargo...`)
  run('npm run --silent build:native')
}
const src = path.join(root, 'src')
if (fs.existsSync(src) && mtime(path.join(root, 'dist', 'index.mjs')) < newest(src, ['.ts'])) {
  run('npm run --silent build:ts')
}
