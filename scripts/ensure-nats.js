// Makes sure the NATS tests have a real `nats-server`: found on PATH or in /usr/sbin (where
// Debian's package puts it), or installed from the distribution's packages when running as root
// on Debian or Ubuntu. The tests start their own servers on free loopback ports; a packaged
// service on 4222, if the package started one, is not used.
'use strict'
const fs = require('node:fs')
const { ensureDebianPackage, has } = require('./debian-package')

ensureDebianPackage({
  tag: 'nats',
  pkg: 'nats-server',
  what: 'nats-server on PATH or in /usr/sbin',
  found: () => has('nats-server') || fs.existsSync('/usr/sbin/nats-server'),
})
