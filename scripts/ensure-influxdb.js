// Makes sure the InfluxDB tests have a real `influxd` (1.x): found on PATH, or installed from the
// distribution's packages when running as root on Debian or Ubuntu. Anything else stops `npm test`
// with one line naming the command to run: the InfluxDB tests are never skipped silently. The
// tests start their own throwaway influxd on loopback; the packaged service is not used.
'use strict'
const { spawnSync } = require('node:child_process')

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0

function fail(message) {
  console.error(`[influxdb] ${message}`)
  process.exit(1)
}

if (!has('influxd')) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !has('apt-get')) {
    fail('the InfluxDB tests need influxd (InfluxDB 1.x) on PATH; install it, e.g. `sudo apt-get install influxdb` on Debian/Ubuntu')
  }
  console.log('[influxdb] influxd not found: installing the Debian package influxdb (once)')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'influxdb']]) {
    const r = spawnSync('apt-get', args, { env, stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0) fail(`apt-get ${args.join(' ')} failed (exit ${r.status}); install influxdb by hand: apt-get install influxdb`)
  }
  if (!has('influxd')) fail('the influxdb package is installed but influxd is not on PATH')
}
