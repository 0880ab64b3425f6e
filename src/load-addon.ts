// Finds the native addon for this platform: a locally built `juice-messaging.<triple>.node`
// next to the package (development, or a build from source), else the prebuilt platform package
// `juice-messaging-<triple>` from optionalDependencies. Every failure is collected so the final
// error says what was tried and what to do.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { NativeModule } from './native'
import { NoBinaryError } from './errors'

function libc(): 'gnu' | 'musl' {
  if (process.platform !== 'linux') return 'gnu'
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return header?.glibcVersionRuntime ? 'gnu' : 'musl'
}

/** The napi-rs platform triple of this process, e.g. `linux-x64-gnu` or `darwin-arm64`. */
export function platformTriple(): string {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${libc()}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The platforms with a prebuilt binary (package.json `napi.targets`). */
const SUPPORTED = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'darwin-arm64', 'win32-x64-msvc']

function load(): NativeModule {
  const triple = platformTriple()
  const tried: string[] = []
  const local = join(__dirname, '..', `juice-messaging.${triple}.node`)
  if (existsSync(local)) {
    try {
      return require(local) as NativeModule
    } catch (e) {
      tried.push(`${local}: ${(e as Error).message}`)
    }
  } else {
    tried.push(`${local}: not found`)
  }
  const pkg = `juice-messaging-${triple}`
  try {
    return require(pkg) as NativeModule
  } catch (e) {
    tried.push(`${pkg}: ${(e as Error).message.split('\n')[0]}`)
  }
  // A clone can build the addon; an installed package has no sources to build from.
  const clone = existsSync(join(__dirname, '..', 'crates'))
  throw new NoBinaryError(
    `juice-messaging has no native binary for this platform (${triple}, Node ${process.version}).\n` +
      `Tried:\n  - ${tried.join('\n  - ')}\n` +
      (clone
        ? 'Fix: build it with a Rust toolchain: npm run build:native'
        : SUPPORTED.includes(triple)
          ? `Fix: reinstall so that npm fetches the optional dependency ${pkg} (not with --no-optional or --omit=optional)`
          : `Fix: there is no prebuilt binary for ${triple} (only ${SUPPORTED.join(', ')}); build from a clone of the ` +
            'repository with a Rust toolchain (npm install && npm run build there) and install that folder'),
  )
}

export const native: NativeModule = load()
