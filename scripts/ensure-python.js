// Creates the interop tests' Python environment: a venv at __test__/interop/.venv (git-ignored)
// holding the pinned upstream package from PyPI. Missing Python or an unreachable package index
// is a hard failure with a clear message: the interop tests are never skipped silently.
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

/** The upstream release the interop tests run against (also stated in the README). */
const JUICE_CORE = 'orangeqs-juice-core==26.43.0'

const venv = path.join(__dirname, '..', '__test__', 'interop', '.venv')
const python = path.join(venv, 'bin', 'python')
const marker = path.join(venv, '.juice-core-installed')

function fail(message, err) {
  console.error(`\n[interop] ${message}`)
  if (err) console.error(String(err.stderr || err.message || err).trim().split('\n').slice(-15).join('\n'))
  console.error('[interop] The interop tests need Python 3.10+ with venv and access to a PyPI index (pip).\n')
  process.exit(1)
}

function installed() {
  try {
    return fs.readFileSync(marker, 'utf8').trim() === JUICE_CORE
  } catch {
    return false
  }
}

if (!installed()) {
  const sys = process.env.PYTHON || 'python3'
  try {
    execFileSync(sys, ['-c', 'import sys; assert sys.version_info >= (3, 10), sys.version'], { stdio: 'pipe' })
  } catch (e) {
    fail(`no usable Python found (tried "${sys}"; set PYTHON to override)`, e)
  }
  console.log(`[interop] creating ${path.relative(process.cwd(), venv)} with ${JUICE_CORE} (about 2 minutes, once)`)
  try {
    fs.rmSync(venv, { recursive: true, force: true })
    execFileSync(sys, ['-m', 'venv', venv], { stdio: 'pipe' })
  } catch (e) {
    fail(`could not create a virtual environment with "${sys} -m venv" (Debian: apt-get install python3-venv)`, e)
  }
  try {
    execFileSync(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', JUICE_CORE], {
      stdio: ['ignore', 'inherit', 'pipe'],
      maxBuffer: 64 << 20,
    })
  } catch (e) {
    fail(`pip could not install ${JUICE_CORE} from the package index`, e)
  }
  fs.writeFileSync(marker, JUICE_CORE + '\n')
}

try {
  execFileSync(python, ['-c', 'import orangeqs.juice.messaging.zmq'], { stdio: 'pipe' })
} catch (e) {
  fail(`${JUICE_CORE} is installed but its messaging module does not import`, e)
}

module.exports = { python, JUICE_CORE }
