// Every TypeScript snippet in the README, CONTRIBUTING and docs/*.md compiles as a user's strict
// TypeScript project would compile it (module nodenext, importing 'juice-messaging'), so the
// documentation cannot drift from the API. Each ```ts block must stand alone. Snippets whose
// first line says "(runs as is)" are also run, from target/snippets (inside the package, so
// 'juice-messaging' resolves to it by name), and must exit 0.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const sources = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

test('every TypeScript snippet of the README and docs compiles under strict', (t) => {
  const dir = path.join(root, 'target', 'snippets')
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const runnable = []
  const files = []
  for (const src of sources) {
    const file = path.join(root, src)
    if (!fs.existsSync(file)) continue
    const text = fs.readFileSync(file, 'utf8')
    for (const m of text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)) {
      const line = text.slice(0, m.index).split('\n').length
      const name = `${src.replace(/[/.]/g, '_')}_line${line}.mts`
      // `export {}` keeps each snippet a module of its own, as a file in a user's project is.
      fs.writeFileSync(path.join(dir, name), `${m[1]}\nexport {}\n`)
      files.push(name)
      if (/^\/\/.*\(runs as is\)/.test(m[1])) runnable.push(name)
    }
  }
  t.true(files.length >= 5, `found ${files.length} snippets`)
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2022',
        lib: ['ES2022', 'esnext.disposable'],
        types: ['node'],
        typeRoots: [path.join(root, 'node_modules', '@types')],
        rootDir: dir,
        outDir: path.join(dir, 'out'),
      },
      files,
    }),
  )
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' })
  t.is(r.status, 0, `${r.stdout}${r.stderr}`.replaceAll(dir + path.sep, ''))
  t.log(`${files.length} snippets from ${sources.filter((s) => fs.existsSync(path.join(root, s))).join(', ')}`)
  t.true(runnable.length >= 1, 'the quick start runs as is')
  for (const name of runnable) {
    const run = spawnSync(process.execPath, [path.join(dir, 'out', name.replace(/\.mts$/, '.mjs'))], { encoding: 'utf8', timeout: 30_000 })
    t.is(run.status, 0, `${name}: ${run.stderr}`)
    t.log(`${name} printed: ${run.stdout.trim()}`)
    if (fs.readFileSync(path.join(dir, name), 'utf8').includes('quick-start.mts')) t.regex(run.stdout, /^idle \d{4}-\d\d-\d\dT/, 'the quick start receives its event')
  }
})
