// Every script in examples/ runs here as a real process, so the examples cannot rot. The
// TypeScript ones are compiled first, as a user's strict project would compile them (tsc with
// tsconfig.examples.json, importing 'juice-messaging' by name), into target/examples.
'use strict'
const test = require('ava')
const path = require('node:path')
const readline = require('node:readline')
const { spawn, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const compiled = path.join(root, 'target', 'examples')

test.before('compile the TypeScript examples (strict)', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.examples.json')], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`the examples do not compile:\n${r.stdout}${r.stderr}`)
})

/** The runnable file of an example: the compiled .mjs of a .mts, or the .js itself. */
const fileOf = (script) => (script.endsWith('.mts') ? path.join(compiled, script.replace(/\.mts$/, '.mjs')) : path.join(root, 'examples', script))

/** Runs an example; resolves with its exit code and JSON lines once it exits. */
function run(script, args = [], { timeout = 60_000 } = {}) {
  const p = spawn(process.execPath, [fileOf(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  let text = ''
  let err = ''
  p.stderr.on('data', (d) => (err += d))
  readline.createInterface({ input: p.stdout }).on('line', (l) => {
    text += l + '\n'
    lines.push(l)
  })
  const timer = setTimeout(() => p.kill('SIGKILL'), timeout)
  const done = new Promise((resolve) =>
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, lines, text, err })
    }),
  )
  const line = async (pred) => {
    for (let i = 0; i < 600; i++) {
      const hit = lines.find(pred)
      if (hit) return hit
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`${script}: expected line never came; stderr: ${err}`)
  }
  return { p, done, line }
}

test('blocking-script.mts: publish and wait for replies without any async code', async (t) => {
  const r = await run('blocking-script.mts').done
  t.is(r.code, 0, r.err)
  t.deepEqual(r.lines, ['kernel q1 is busy', 'kernel q1 is idle'])
})

test('proxy-in-http-server.mts + telemetry-publisher.mts + dashboard-subscriber.mts work together', async (t) => {
  const server = run('proxy-in-http-server.mts', ['0', 'tcp://127.0.0.1:0', 'tcp://127.0.0.1:0'])
  const eps = /publishers connect to (\S+), subscribers to (\S+)/.exec(await server.line((l) => l.startsWith('proxy:')))
  const statsUrl = (await server.line((l) => l.startsWith('stats:'))).slice('stats: '.length)
  const dash = run('dashboard-subscriber.mts', [eps[2], 'qpu1', '20', '10'])
  await dash.line((l) => l.startsWith('listening'))
  await server.line((l) => /1 subscriber/.test(l))
  const pub = await run('telemetry-publisher.mts', [eps[1], '60', '2000']).done
  t.is(pub.code, 0, pub.err)
  t.regex(pub.lines.at(-1), /^published 60 readings to tcp:\/\/127\.0\.0\.1:\d+: 60 sent, 40 with no subscriber, 0 undelivered$/, "only qpu1 (every third) has a subscriber")
  const d = await dash.done
  t.is(d.code, 0, d.err)
  t.is(d.lines.filter((l) => / qpu1 mxc {2}[\d.]+ mK$/.test(l)).length, 20, 'every third reading is qpu1')
  t.regex(d.lines.at(-1), /^received 20 readings \(dropped 0\); latest: qpu1 [\d.]+ mK$/)
  const stats = await (await fetch(statsUrl)).json()
  t.true(stats.messages >= 20, JSON.stringify(stats))
  server.p.kill('SIGTERM')
  const s = await server.done
  t.is(s.code, 0, 'the server shuts down cleanly on SIGTERM')
  t.regex(s.text, /stopped after forwarding \d+ events/)
})

test('demo.js (npm start) runs, prints rates and loses nothing', async (t) => {
  // At full speed, a receive thread starved for a second or so on a loaded machine falls behind
  // by more than its queues hold, and the (default, dropping) proxy drops for it. 10,000 events/s
  // for 2 s fit in the subscriber's queue alone, so anything missing is lost by a defect.
  const r = await run('demo.js', ['--seconds', '2', '--rate', '10000']).done
  t.is(r.code, 0, r.err)
  const m = /done: published ([\d,]+), received ([\d,]+), dropped (\d+)/.exec(r.text)
  t.truthy(m, r.text)
  t.is(m[1], m[2])
  t.regex(r.text, /received +[\d,]+\/s/)
})

test('python-interop.mts receives from the real Python publisher', async (t) => {
  const r = await run('python-interop.mts').done
  t.is(r.code, 0, r.err)
  t.is((r.text.match(/KernelStatusChanged from Python: service=q1/g) ?? []).length, 3)
})
