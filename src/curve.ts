// CURVE keys for an authenticated, encrypted proxy. Keys are 40-character Z85 strings, the form
// libzmq and pyzmq use, so keys can be shared with Python tools.
import { call } from './errors'
import { native } from './load-addon'

/** A CURVE key pair. Keep `secretKey` secret; hand `publicKey` to the other side. */
export interface CurveKeyPair {
  publicKey: string
  secretKey: string
}

/** CURVE settings of a publisher or subscriber connecting to a CURVE proxy. */
export interface ClientCurveOptions {
  /** The proxy's public key. */
  serverKey: string
  /** This client's public key; must be on the proxy's `allowedClients`. */
  publicKey: string
  /** This client's secret key. */
  secretKey: string
}

/** CURVE settings of a proxy: both endpoints encrypt, and only listed clients get in. */
export interface ProxyCurveOptions {
  /** The proxy's secret key. Its public key (give it to clients) is `proxy.curvePublicKey`. */
  secretKey: string
  /** Public keys of the publishers and subscribers allowed to connect. */
  allowedClients: string[]
}

/** Makes a fresh CURVE key pair from libsodium's random source. */
export function generateKeyPair(): CurveKeyPair {
  return call(() => native.generateKeyPair())
}

/** The public key that belongs to `secretKey`. */
export function curvePublicKey(secretKey: string): string {
  if (typeof secretKey !== 'string') throw new TypeError(`secretKey must be a string, got ${typeof secretKey}`)
  return call(() => native.curvePublicKey(secretKey))
}

export const CLIENT_CURVE_FIELDS: (keyof ClientCurveOptions)[] = ['serverKey', 'publicKey', 'secretKey']

/** Checks the shape of CURVE options before they reach native code, naming the bad field. */
export function checkCurveOptions<T extends object>(curve: T | undefined, fields: (keyof T & string)[], where: string): T | undefined {
  if (curve === undefined || curve === null) return undefined
  if (typeof curve !== 'object') throw new TypeError(`${where}.curve must be an object, got ${typeof curve}`)
  for (const f of fields) {
    const v = (curve as Record<string, unknown>)[f]
    if (f === 'allowedClients') {
      if (!Array.isArray(v) || v.some((k) => typeof k !== 'string')) {
        throw new TypeError(`${where}.curve.allowedClients must be an array of Z85 key strings`)
      }
    } else if (typeof v !== 'string') {
      throw new TypeError(`${where}.curve.${f} must be a Z85 key string, got ${typeof v}`)
    }
  }
  return curve
}
