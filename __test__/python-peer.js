// A real upstream Python Juice peer (__test__/interop/peer.py, run in the venv that
// scripts/ensure-python.js makes), driven over stdin, answering with one JSON object per line.
'use strict'
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')

const PYTHON = path.join(__dirname, 'interop', '.venv', 'bin', 'python')
const PEER = path.join(__dirname, 'interop', 'peer.py')

function pythonPeer(args) {
  const p = spawn(PYTHON, [PEER, ...args], { cwd: path.dirname(PEER), stdio: ['pipe', 'pipe', 'pipe'] })
  const lines = []
  let wake = null
  let stderr = ''
  let exited = false
  p.stderr.on('data', (d) => (stderr += d))
  readline.createInterface({ input: p.stdout }).on('line', (l) => {
    lines.push(JSON.parse(l))
    wake?.()
  })
  p.on('exit', () => {
    exited = true
    wake?.()
  })
  return {
    lines,
    write: (s) => p.stdin.write(`${s}\n`),
    /** Resolves with the first line matching `pred`; rejects after `ms` or when the peer exits. */
    async line(pred, ms = 20_000) {
      const end = Date.now() + ms
      for (;;) {
        const found = lines.find(pred)
        if (found) return found
        if (exited || Date.now() > end) throw new Error(`python peer ${args[0]}: no expected line; stderr:\n${stderr}`)
        await new Promise((r) => {
          wake = r
          setTimeout(r, 50)
        })
        wake = null
      }
    },
    kill: () => p.kill('SIGKILL'),
  }
}

module.exports = { pythonPeer }
