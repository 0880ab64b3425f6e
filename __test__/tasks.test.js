// Tasks: request/reply with Juice services over upstream's WebSocket protocol. Our client against
// our server, then both against the real upstream package (its TaskServer and its TaskClient, from
// the pinned release in __test__/interop/.venv), the blocking client in a script that never
// yields, the CLI, and the robustness cases: malformed envelopes, oversized messages, dropped
// connections, 1,000 concurrent tasks.
'use strict'
const test = require('ava')
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')
const WebSocket = require('ws')
const { j, freePort } = require('./helpers')

const PYTHON = path.join(__dirname, 'interop', '.venv', 'bin', 'python')
const PEER = path.join(__dirname, 'interop', 'tasks_peer.py')
const BIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

class Add extends j.Task {}
class Boom extends j.Task {}
class Sleep extends j.Task {}
class ParallelSleep extends j.Task {
  static parallel = true
}

async function nodeServer(opts = {}) {
  const srv = await j.TaskServer.start({ port: 0, ...opts })
  srv
    .register(Add, (t) => t.a + t.b)
    .register(Boom, (t) => {
      throw new RangeError(t.message ?? 'no')
    })
    .register(Sleep, async (t) => {
      await sleep(t.seconds * 1000)
      return t.seconds
    })
    .register(ParallelSleep, async (t) => {
      await sleep(t.seconds * 1000)
      return t.seconds
    })
  return srv
}

async function listening(port) {
  for (let i = 0; i < 150; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end()
        r(true)
      })
      s.on('error', () => r(false))
    })
    if (ok) return
    await sleep(100)
  }
  throw new Error(`nothing listens on ${port}`)
}

/** A raw WebSocket peer: sends `frames`, collects the replies. */
async function raw(url, frames, opts = {}) {
  const ws = new WebSocket(url, opts)
  await new Promise((r, e) => {
    ws.once('open', r)
    ws.once('error', e)
  })
  const replies = []
  ws.on('message', (d) => replies.push(JSON.parse(String(d))))
  const closed = new Promise((r) => ws.once('close', (code) => r(code)))
  for (const f of frames) ws.send(f)
  return { replies, closed, ws }
}

test('our client and server: results, remote errors with their traceback, handles, timeouts and aborts', async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const c = new j.TaskClient(`ws://127.0.0.1:${srv.port}`)
  t.teardown(() => c.close())
  t.is(c.url, `ws://127.0.0.1:${srv.port}/tasks`)
  t.is(await c.execute('svc', new Add({ a: 1, b: 2 })), 3)
  const err = await t.throwsAsync(c.execute('svc', new Boom({ message: 'bad value' })), { instanceOf: j.TaskError })
  t.is(err.ename, 'RangeError')
  t.is(err.evalue, 'bad value')
  t.regex(err.traceback, /RangeError: bad value\n\s+at /)
  const h = await c.request('svc', new Sleep({ seconds: 0.1 }))
  t.regex(h.id, /^[0-9a-f-]{36}$/)
  t.is(await h.result, 0.1)
  await t.throwsAsync(c.execute('svc', new Sleep({ seconds: 1 }), { timeout: 0.1 }), { instanceOf: j.TimeoutError, message: /no reply to task Sleep .* within 0.1 s/ })
  const ac = new AbortController()
  setTimeout(() => ac.abort(new Error('stop waiting')), 50)
  await t.throwsAsync(c.execute('svc', new Sleep({ seconds: 1 }), { signal: ac.signal }), { message: 'stop waiting' })
  // The server keeps answering after all that.
  t.is(await c.execute('svc', new Add({ a: 2, b: 2 })), 4)
})

// Timing-sensitive tests run one at a time (test.serial), with bounds relative to what they compare.
test.serial('serial tasks run one at a time in arrival order; parallel ones at once', async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const c = new j.TaskClient(`ws://127.0.0.1:${srv.port}`)
  t.teardown(() => c.close())
  // 0.5 s tasks: client and server share this event loop, and a loaded machine adds hundreds of
  // milliseconds; parallel ones take about 500 ms against a bound of about 1,125.
  let t0 = Date.now()
  await Promise.all([1, 2, 3].map(() => c.execute('svc', new Sleep({ seconds: 0.5 }))))
  const serial = Date.now() - t0
  t0 = Date.now()
  await Promise.all([1, 2, 3].map(() => c.execute('svc', new ParallelSleep({ seconds: 0.5 }))))
  const parallel = Date.now() - t0
  t.true(serial >= 1480, `three serial 0.5 s tasks took ${serial} ms`)
  t.true(parallel < serial * 0.75, `three parallel 0.5 s tasks took ${parallel} ms, serial ones ${serial} ms`)
})

test('malformed envelopes and unknown types get error replies; an oversized message closes only its connection', async (t) => {
  const srv = await nodeServer({ maxMessageSize: 64 * 1024 })
  t.teardown(() => srv.close())
  const url = `ws://127.0.0.1:${srv.port}/tasks`
  const p = await raw(url, ['not json', '[1]', '{"type":"Add","payload":{}}', '{"id":"a"}', '{"id":"b","type":"Nope","payload":{}}', '{"id":"c","type":"Add","payload":[1]}', '{"id":"d","type":"Add","payload":{"a":1,"b":1}}'])
  for (let i = 0; i < 100 && p.replies.length < 7; i++) await sleep(20)
  const byId = (id) => p.replies.filter((r) => r.id === id)
  t.is(byId(null).length, 3)
  t.true(byId(null).every((r) => r.status === 'error' && r.ename === 'ValueError'))
  t.like(byId('a')[0], { status: 'error', ename: 'ValueError', evalue: "Missing 'type' key in task data" })
  t.like(byId('b')[0], { status: 'error', ename: 'ValueError', evalue: 'Unknown task type: Nope' })
  t.like(byId('c')[0], { status: 'error', ename: 'ValidationError' })
  t.like(byId('d')[0], { status: 'ok', result: 2 })
  p.ws.close()
  // Over the bound: the server closes that connection with 1009 (message too big).
  const big = await raw(url, [JSON.stringify({ id: 'x', type: 'Add', payload: { pad: 'x'.repeat(100_000) } })])
  t.is(await big.closed, 1009)
  // Other clients are unaffected.
  const c = new j.TaskClient(url)
  t.is(await c.execute('svc', new Add({ a: 5, b: 5 })), 10)
  await c.close()
})

test('a dropped connection fails pending tasks with TaskConnectionError; the client reconnects for the next one', async (t) => {
  const port = await freePort()
  let srv = await j.TaskServer.start({ port })
  srv.register(Sleep, () => new Promise(() => {}))
  const c = new j.TaskClient(`ws://127.0.0.1:${port}`)
  t.teardown(() => c.close())
  const pending = c.execute('svc', new Sleep({ seconds: 10 }))
  for (let i = 0; i < 200 && srv.inFlight === 0; i++) await sleep(20)
  t.is(srv.inFlight, 1, 'the task is running on the server')
  await srv.close()
  await t.throwsAsync(pending, { instanceOf: j.TaskConnectionError, message: /connection to the task server at ws:\/\/127\.0\.0\.1:\d+\/tasks was lost/ })
  await t.throwsAsync(c.execute('svc', new Add({ a: 1, b: 1 })), { instanceOf: j.TaskConnectionError, message: /cannot connect/ })
  srv = await nodeServer({ port })
  t.teardown(() => srv.close())
  t.is(await c.execute('svc', new Add({ a: 1, b: 1 })), 2)
})

test.serial('1,000 concurrent tasks: the server stays responsive and answers every one', async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const c = new j.TaskClient(`ws://127.0.0.1:${srv.port}`)
  t.teardown(() => c.close())
  // 5 s tasks: the quick one must not wait for them, so it is not also queued behind their
  // 1,000 replies; a server that ran them one by one would take 5 s or more.
  const slow = Array.from({ length: 1000 }, () => c.execute('svc', new ParallelSleep({ seconds: 5 })))
  await sleep(100)
  const t0 = Date.now()
  t.is(await c.execute('svc', new ParallelSleep({ seconds: 0 })), 0)
  const quick = Date.now() - t0
  t.true(quick < 2500, `a quick task took ${quick} ms behind 1,000 running ones (each runs 5 s)`)
  const results = await Promise.all(slow)
  t.is(results.length, 1000)
  t.true(results.every((r) => r === 5))
})

test('TaskClientBlocking in a script that never yields: results and remote errors', async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const script = `
    const j = require(${JSON.stringify(path.join(__dirname, '..'))})
    class Add extends j.Task {}
    class Boom extends j.Task {}
    const c = new j.TaskClientBlocking('ws://127.0.0.1:${srv.port}')
    console.log(c.execute('svc', new Add({ a: 4, b: 5 })))
    try { c.execute('svc', new Boom({ message: 'blocked' })) } catch (e) { console.log(e.constructor.name, e.ename, e.evalue) }
    console.log(c.execute('svc', new Add({ a: 1, b: 1 })))
    c.close()`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise((r) => child.on('close', r))
  t.is(code, 0, err)
  t.deepEqual(out.trim().split('\n'), ['9', 'TaskError RangeError blocked', '2'])
})

test('interop: our TaskClient calls the real upstream task server: a value, a raise, a 2 s task', async (t) => {
  const port = await freePort()
  const py = spawn(PYTHON, [PEER, 'server', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => py.kill('SIGKILL'))
  await listening(port)
  const c = new j.TaskClient(`ws://127.0.0.1:${port}`)
  t.teardown(() => c.close())
  t.deepEqual(await c.execute('svc', new Add({ a: 1, b: 2 })), { sum: 3 })
  const err = await t.throwsAsync(c.execute('svc', new Boom({ message: 'raised in Python' })), { instanceOf: j.TaskError })
  t.is(err.ename, 'ValueError')
  t.is(err.evalue, 'raised in Python')
  t.regex(err.traceback, /Traceback \(most recent call last\)[\s\S]*ValueError: raised in Python/)
  const t0 = Date.now()
  t.is(await c.execute('svc', new Sleep({ seconds: 2 })), 2)
  t.true(Date.now() - t0 >= 1900)
  // Upstream validates the payload with pydantic: a missing field is its ValidationError.
  await t.throwsAsync(c.execute('svc', new Add({ a: 1 })), { instanceOf: j.TaskError, message: /^ValidationError: / })
})

test.serial('interop: the real upstream TaskClient calls our TaskServer: results, errors and concurrency', async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const py = spawn(PYTHON, [PEER, 'client', `ws://127.0.0.1:${srv.port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  py.stdout.on('data', (d) => (out += d))
  py.stderr.on('data', (d) => (err += d))
  const code = await new Promise((r) => py.on('close', r))
  t.is(code, 0, err)
  const steps = Object.fromEntries(out.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.step).map((l) => [l.step, l]))
  t.like(steps.add.reply, { status: 'ok', result: 5 })
  t.like(steps.boom.reply, { status: 'error', ename: 'RangeError', evalue: 'bad value' })
  t.regex(steps.boom.reply.traceback, /RangeError: bad value/)
  // Upstream marks ParallelSleep parallel (a ClassVar): four 0.5 s tasks overlap (one after the
  // other they would take 2 s or more).
  t.true(steps.parallel.seconds < 1.8, `parallel: ${steps.parallel.seconds} s`)
  t.true(steps.parallel.replies.every((r) => r.status === 'ok' && r.result === 0.5))
  // Sleep is serial: three 0.3 s tasks take at least 0.9 s.
  t.true(steps.serial.seconds >= 0.85, `serial: ${steps.serial.seconds} s`)
})

test('juice task prints the result, or the remote error and exit 1', async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const run = (args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, 'task', ...args, '--url', `ws://127.0.0.1:${srv.port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (err += d))
      child.on('close', (code) => resolve({ code, out, err }))
    })
  const ok = await run(['svc', 'Add', '{"a": 20, "b": 22}'])
  t.is(ok.code, 0, ok.err)
  t.is(ok.out.trim(), '42')
  const bad = await run(['svc', 'Boom', '{"message": "from the CLI"}'])
  t.is(bad.code, 1)
  t.regex(bad.err, /RangeError: from the CLI/)
  const unknown = await run(['svc', 'Nope'])
  t.is(unknown.code, 1)
  t.regex(unknown.err, /ValueError: Unknown task type: Nope/)
})

test.serial("interop: through upstream's own task manager router: results, errors, its serial slot, and its TaskEvents", async (t) => {
  const srv = await nodeServer()
  t.teardown(() => srv.close())
  const port = await freePort()
  // The real router; only its two event writers (InfluxDB 2 and the bus) are stand-ins that print.
  const py = spawn(PYTHON, [PEER, 'router', String(port), String(srv.port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => py.kill('SIGKILL'))
  let out = ''
  py.stdout.on('data', (d) => (out += d))
  await listening(port)
  const c = new j.TaskClient(`ws://127.0.0.1:${port}`)
  t.teardown(() => c.close())
  t.is(await c.execute('svc', new Add({ a: 1, b: 2 })), 3)
  const err = await t.throwsAsync(c.execute('svc', new Boom({ message: 'via the router' })), { instanceOf: j.TaskError })
  t.is(err.ename, 'RangeError')
  // 0.5 s tasks: the router adds Python hops to each; parallel ones take about 500 ms against a
  // bound of about 1,125.
  let t0 = Date.now()
  await Promise.all([1, 2, 3].map(() => c.execute('svc', new Sleep({ seconds: 0.5 }))))
  const serial = Date.now() - t0
  t0 = Date.now()
  await Promise.all([1, 2, 3].map(() => c.execute('svc', new ParallelSleep({ seconds: 0.5 }))))
  const parallel = Date.now() - t0
  t.true(serial >= 1450, `the router ran serial tasks one at a time: ${serial} ms`)
  t.true(parallel < serial * 0.75, `and parallel ones together: ${parallel} ms (serial ${serial} ms)`)
  await sleep(200)
  const events = out.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.event).map((l) => l.event)
  const add = events.filter((e) => e.task_type === 'Add')
  t.deepEqual(add.map((e) => e.task_state), ['created', 'started', 'completed'])
  // Our display name is upstream's: `Type: field=repr(value), ...`.
  t.is(add[0].task_display_name, 'Add: a=1, b=2')
  t.is(events.find((e) => e.task_type === 'Boom').task_display_name, "Boom: message='via the router'")
})

test('mistakes are caught before anything is sent, and results JSON cannot carry are errors', async (t) => {
  let seen = 0
  const srv = await j.TaskServer.start({ port: 0 })
  t.teardown(() => srv.close())
  class Fn extends j.Task {}
  srv.register(Add, (x) => {
    seen++
    return x.a + x.b
  })
  srv.register(Fn, () => () => 1)
  const c = new j.TaskClient(`ws://127.0.0.1:${srv.port}`)
  t.teardown(() => c.close())
  await t.throwsAsync(c.execute('svc', new Add({ a: 1, b: 1 }), { timeout: 1e9 }), { instanceOf: TypeError, message: /timeout must be a number of seconds from 0 to 2147483/ })
  const ac = new AbortController()
  ac.abort(new Error('already aborted'))
  await t.throwsAsync(c.execute('svc', new Add({ a: 1, b: 1 }), { signal: ac.signal }), { message: 'already aborted' })
  await t.throwsAsync(c.execute('', new Add({ a: 1, b: 1 })), { instanceOf: TypeError, message: /target must be a non-empty string/ })
  const small = new j.TaskClient(`ws://127.0.0.1:${srv.port}`, { maxMessageSize: 1000 })
  t.teardown(() => small.close())
  await t.throwsAsync(small.execute('svc', new Add({ a: 1, b: 'x'.repeat(2000) })), { instanceOf: RangeError, message: /over the 1000-byte message limit/ })
  t.is(seen, 0, 'none of those reached the server')
  await t.throwsAsync(c.execute('svc', new Fn()), { instanceOf: j.TaskError, message: /TypeError: result of type function is not JSON-serialisable/ })
  t.throws(() => new j.TaskClientBlocking('http://127.0.0.1:1'), { instanceOf: TypeError, message: /must be ws:\/\/ or wss:\/\// })
  t.throws(() => new j.TaskClient('not a url'), { instanceOf: TypeError, message: /not a URL/ })
})
