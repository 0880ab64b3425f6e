// Copies the locally built addon into its platform package (npm/<triple>/), ready for `npm pack`
// or `npm publish` there. Release builds of other targets put their .node files in place the
// same way (see docs/release.md).
//   node scripts/stage-platform.js [triple]
'use strict'
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

function hostTriple() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

const triple = process.argv[2] ?? hostTriple()
const file = `juice-messaging.${triple}.node`
// The portable release build (scripts/build-portable.js) when there is one, else the local build.
const portable = path.join(root, 'target', 'portable', file)
const from = fs.existsSync(portable) ? portable : path.join(root, file)
const dir = path.join(root, 'npm', triple)
if (!fs.existsSync(dir)) {
  console.error(`stage-platform: there is no platform package npm/${triple} (targets are listed in package.json "napi")`)
  process.exit(1)
}
if (!fs.existsSync(from)) {
  console.error(`stage-platform: ${file} is not built; run npm run build:native first`)
  process.exit(1)
}
const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
if (pkg.version !== rootPkg.version) {
  console.error(`stage-platform: npm/${triple} is version ${pkg.version} but the root package is ${rootPkg.version}`)
  process.exit(1)
}
fs.copyFileSync(from, path.join(dir, file))
console.log(`stage-platform: npm/${triple}/${file} (${(fs.statSync(from).size / 1048576).toFixed(2)} MiB)`)
