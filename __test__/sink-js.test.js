// The sink tests (sink-cases.js) for the JavaScript engine.
'use strict'
require('./sink-cases')('js')
