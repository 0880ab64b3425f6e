// Process lifetime: closed objects let the process exit; a pending get() keeps it alive, as an
// awaited read should; abandoned objects are reclaimed without crashing.
'use strict'
const test = require('ava')
const { spawn } = require('node:child_process')
const path = require('node:path')

const child = path.join(__dirname, 'fixtures', 'exit-child.js')

function runMode(mode, killAfterMs, nodeArgs = []) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeArgs, child, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => p.kill('SIGKILL'), killAfterMs)
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, out })
    })
  })
}

test('a process with closed publishers, subscribers and proxy exits normally', async (t) => {
  const r = await runMode('closed', 20_000)
  t.is(r.signal, null, r.out)
  t.is(r.code, 0, r.out)
  t.regex(r.out, /closed/)
})

test('a pending async get() keeps the process alive', async (t) => {
  const r = await runMode('pending', 1500)
  t.regex(r.out, /waiting/)
  t.is(r.signal, 'SIGKILL', 'still running when killed')
})

test('garbage-collecting unclosed subscribers (threads blocked in receive) neither crashes nor hangs', async (t) => {
  const r = await runMode('gc', 20_000, ['--expose-gc'])
  t.is(r.signal, null, r.out)
  t.is(r.code, 0, r.out)
  t.regex(r.out, /gc done/)
})
