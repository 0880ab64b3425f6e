// Makes sure the InfluxDB tests have a real `influxd` (1.x): found on PATH, or installed from the
// distribution's packages when running as root on Debian or Ubuntu. The tests start their own
// throwaway influxd on loopback; the packaged service is not used.
'use strict'
const { ensureDebianPackage, has } = require('./debian-package')

ensureDebianPackage({ tag: 'influxdb', pkg: 'influxdb', what: 'influxd (InfluxDB 1.x) on PATH', found: () => has('influxd') })
