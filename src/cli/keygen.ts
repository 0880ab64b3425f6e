// `juice keygen`: a CURVE key pair for the proxy or a client.
import { writeFileSync } from 'node:fs'
import { generateKeyPair } from '../index'
import { parse, UsageError, formatHelp } from './args'

export const help = formatHelp(`Usage: juice keygen [--json] [--out FILE]

Makes a CURVE key pair (40-character Z85 keys, as libzmq and pyzmq use).

  --out FILE   write the pair as JSON to FILE (mode 0600) and print only the public key;
               pass FILE to --keys of juice proxy, tail and publish
  --json       print the pair as JSON instead of two lines
  -h, --help   this help

Example: juice keygen --out proxy.key && juice keygen --out dashboard.key
`)

export async function keygen(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, out: { type: 'string' } })
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
  const pair = generateKeyPair()
  if (typeof values.out === 'string') {
    try {
      writeFileSync(values.out, JSON.stringify(pair, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      throw new UsageError(`--out: cannot write ${values.out}: ${code === 'EEXIST' ? 'the file exists (keys are never overwritten)' : code}`)
    }
    process.stdout.write(pair.publicKey + '\n')
  } else if (values.json) {
    process.stdout.write(JSON.stringify(pair) + '\n')
  } else {
    process.stdout.write(`public: ${pair.publicKey}\nsecret: ${pair.secretKey}\n`)
  }
  return 0
}
