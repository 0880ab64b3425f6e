// The sink tests (sink-cases.js) for the native engine, and the CLI, which uses it by default.
'use strict'
require('./sink-cases')('native', { cli: true })
