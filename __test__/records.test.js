// The TypeScript side of the record formats (src/records.ts) against the golden bytes that the
// Rust side (crates/juice-core/src/records.rs) is tested against too.
'use strict'
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { BatchReader, BatchWriter } = require('../dist/records')

const golden = Object.fromEntries(
  fs
    .readFileSync(path.join(__dirname, 'fixtures', 'records-golden.txt'), 'utf8')
    .split('\n')
    .filter((l) => /^\w+: [0-9a-f]+$/.test(l))
    .map((l) => l.split(': '))
    .map(([k, hex]) => [k, Buffer.from(hex, 'hex')]),
)

test('publish records: BatchWriter writes the golden bytes', (t) => {
  const w = new BatchWriter()
  const utf8 = (s) => Buffer.byteLength(s)
  t.true(w.add('Reading', utf8('Reading'), 'lab.fridge', '{"t":1}') > 0)
  t.true(w.add('Ping', utf8('Ping'), null, '{}') > 0)
  t.true(w.add('Café', utf8('Café'), '', '"μ"') > 0)
  t.deepEqual(w.view(), golden.publish)
  // The size it reports is the message on the wire: topic frame ("Reading.lab.fridge.") + payload.
  const w2 = new BatchWriter()
  t.is(w2.add('Reading', 7, 'lab.fridge', '{"t":1}'), 19 + 7)
  t.is(w2.add('Reading', 7, 'lab.fridge', '{"t":1}', 25), -26, 'over the limit: refused, batch unchanged')
  t.is(w2.len, 12 + 7 + 10 + 7)
})

test('inbox records: BatchReader reads the golden bytes, and stops at a truncated record', (t) => {
  const r = new BatchReader()
  r.load(golden.inbox)
  const seen = []
  while (r.next()) seen.push([r.typeId, r.topic(), r.payload()])
  t.deepEqual(seen, [
    [0, 'Reading.lab.fridge.', '{"t":1}'],
    [7, 'Ping.', '{}'],
    [4294967295, 'Café.', '"μ"'],
  ])
  for (const cut of [golden.inbox.length - 1, 12 + 19 + 7 + 12 + 5 + 2 + 11]) {
    r.load(golden.inbox, cut) // the last record cut short: in its payload, in its header
    let n = 0
    while (r.next()) n++
    t.is(n, 2, `cut at ${cut}`)
  }
})
