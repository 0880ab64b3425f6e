// Every script in examples/ runs here as a real process, so the examples cannot rot.
'use strict'
const test = require('ava')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')

const dir = path.join(__dirname, '..', 'examples')

/** Runs an example; resolves with its exit code and JSON lines once it exits. */
function run(script, args = [], { timeout = 60_000 } = {}) {
  const p = spawn(process.execPath, [path.join(dir, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines = []
  let text = ''
  let err = ''
  p.stderr.on('data', (d) => (err += d))
  readline.createInterface({ input: p.stdout }).on('line', (l) => {
    text += l + '\n'
    try {
      lines.push(JSON.parse(l))
    } catch {}
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

test('blocking-script.js: publish and wait for replies without any async code', async (t) => {
  const r = await run('blocking-script.js').done
  t.is(r.code, 0, r.err)
  t.deepEqual(r.lines.at(-1), { got: ['busy', 'idle'] })
})

test('proxy-in-http-server.js + telemetry-publisher.js + dashboard-subscriber.js work together', async (t) => {
  const server = run('proxy-in-http-server.js', ['0', 'tcp://127.0.0.1:0', 'tcp://127.0.0.1:0'])
  const eps = await server.line((l) => l.http)
  const dash = run('dashboard-subscriber.js', [eps.backend, 'qpu1', '20', '10'])
  await dash.line((l) => l.ready)
  await new Promise((r) => setTimeout(r, 300))
  const pub = await run('telemetry-publisher.js', [eps.frontend, '60', '2000']).done
  t.is(pub.code, 0, pub.err)
  t.is(pub.lines.at(-1).sent, 60)
  const d = await dash.done
  t.is(d.code, 0, d.err)
  const summary = d.lines.at(-1)
  t.is(summary.received, 20, 'every third event is qpu1')
  t.deepEqual(Object.keys(summary.latest), ['qpu1'])
  const stats = await (await fetch(`${eps.http}/stats`)).json()
  t.true(stats.messages >= 20, JSON.stringify(stats))
  server.p.kill('SIGTERM')
  const s = await server.done
  t.is(s.code, 0, 'the server shuts down cleanly on SIGTERM')
})

test('demo.js (npm start) runs, prints rates and loses nothing', async (t) => {
  const r = await run('demo.js', ['--seconds', '2']).done
  t.is(r.code, 0, r.err)
  const m = /done: published ([\d,]+), received ([\d,]+), dropped (\d+)/.exec(r.text)
  t.truthy(m, r.text)
  t.is(m[1], m[2])
  t.regex(r.text, /received +[\d,]+\/s/)
})

test('python-interop.js receives from the real Python publisher', async (t) => {
  const r = await run('python-interop.js').done
  t.is(r.code, 0, r.err)
  t.is((r.text.match(/KernelStatusChanged from Python: service=q1/g) ?? []).length, 3)
})
