// Installs a Debian package that a test suite needs, when its command is missing: as root with
// apt-get only, otherwise stopping `npm test` with one line naming the command to run, so that no
// suite is ever skipped silently. Shared by ensure-influxdb.js and ensure-nats.js.
'use strict'
const { spawnSync } = require('node:child_process')

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

/**
 * @param {{ tag: string, pkg: string, what: string, found: () => boolean }} p
 *   `tag` prefixes messages, `pkg` is the package, `what` names what the tests need, and
 *   `found()` says whether it is there.
 */
function ensureDebianPackage({ tag, pkg, what, found }) {
  const fail = (message) => {
    console.error(`[${tag}] ${message}`)
    process.exit(1)
  }
  if (found()) return
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !has('apt-get')) fail(`the ${tag} tests need ${what}; install it, e.g. \`sudo apt-get install ${pkg}\` on Debian/Ubuntu`)
  console.log(`[${tag}] ${what} not found: installing the Debian package ${pkg} (once)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', pkg]]) {
    const r = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) fail(`apt-get ${args.join(' ')} failed (exit ${r.status}); install ${pkg} by hand: apt-get install ${pkg}`)
  }
  if (!found()) fail(`the ${pkg} package is installed but ${what} is still not found`)
}

module.exports = { ensureDebianPackage, has }
