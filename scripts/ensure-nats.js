// Makes sure the NATS tests have a real `nats-server`: found on PATH or in /usr/sbin (where
// Debian's package puts it), or installed from the distribution's packages when running as root
// on Debian or Ubuntu. Anything else stops `npm test` with one line naming the command to run: the
// NATS tests are never skipped silently. The tests start their own servers on free loopback ports;
// a packaged service on 4222, if the package started one, is not used.
'use strict'
const fs = require('node:fs')
const { spawnSync } = require('node:child_process')

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
const found = () => has('nats-server') || fs.existsSync('/usr/sbin/nats-server')

function fail(message) {
  console.error(`[nats] ${message}`)
  process.exit(1)
}

if (!found()) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !has('apt-get')) {
    fail('the NATS tests need nats-server on PATH; install it, e.g. `sudo apt-get install nats-server` on Debian/Ubuntu')
  }
  console.log('[nats] nats-server not found: installing the Debian package nats-server (once)')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'nats-server']]) {
    const r = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) fail(`apt-get ${args.join(' ')} failed (exit ${r.status}); install nats-server by hand: apt-get install nats-server`)
  }
  if (!found()) fail('the nats-server package is installed but nats-server is not on PATH or in /usr/sbin')
}
