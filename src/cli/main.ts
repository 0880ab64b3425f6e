#!/usr/bin/env node
// Entry point of the `juice` and `juice-messaging` commands. The native addon is loaded first, on
// its own: on a platform without a binary, the user gets one line saying so and what to do,
// not a stack trace from deep inside a module import.
try {
  require('../index')
} catch (e) {
  const text = (e as Error)?.message ?? String(e)
  const first = text.split('\n')[0]
  const fix = /^Fix: (.*)$/m.exec(text)?.[1]
  process.stderr.write(`juice: ${first}${fix ? ` Fix: ${fix}` : ''}\n`)
  process.exit(1)
}
require('./run')
