// Process lifetime: closed objects let the process exit; a pending get() keeps it alive, as an
// awaited read should; abandoned objects are reclaimed without crashing.
'use strict'
const test = require('ava')
const { spawn } = require('node:child_process')
const path = require('node:path')

const child = path.join(__dirname, 'fixtures', 'exit-child.js')

/**
 * Runs the child in `mode` and SIGKILLs it after `killAfterMs`; with `after`, the clock starts
 * only once the child printed that text (its start-up time varies on a loaded machine).
 */
function runMode(mode, killAfterMs, nodeArgs = [], after = null) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeArgs, child, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let timer = null
    const arm = () => {
      timer ??= setTimeout(() => p.kill('SIGKILL'), killAfterMs)
    }
    p.stdout.on('data', (d) => {
      out += d
      if (after !== null && out.includes(after)) arm()
    })
    p.stderr.on('data', (d) => (out += d))
    if (after === null) arm()
    // Even a child that never prints is stopped.
    const cap = setTimeout(() => p.kill('SIGKILL'), 60_000)
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(cap)
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
  const r = await runMode('pending', 1000, [], 'waiting')
  t.regex(r.out, /waiting/)
  t.is(r.signal, 'SIGKILL', 'still running when killed')
})

test('garbage-collecting unclosed subscribers (threads blocked in receive) neither crashes nor hangs', async (t) => {
  const r = await runMode('gc', 20_000, ['--expose-gc'])
  t.is(r.signal, null, r.out)
  t.is(r.code, 0, r.out)
  t.regex(r.out, /gc done/)
})
