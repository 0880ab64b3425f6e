// What the long-running commands (`juice proxy`, `juice bridge`) share: a status line until
// Ctrl-C or SIGTERM. On a terminal one live line, redrawn every second; otherwise (a log file,
// a service manager) a timestamped line every `intervalSecs`.

/** Shows `statusLine()` until SIGINT or SIGTERM, then clears the live line. */
export async function statusUntilStopped(statusLine: () => string, intervalSecs: number): Promise<void> {
  const tty = Boolean(process.stdout.isTTY)
  const tick = () => {
    const line = statusLine()
    if (tty) process.stdout.write(`\r\x1b[K${line}`)
    else process.stdout.write(`${new Date().toISOString()} ${line}\n`)
  }
  const timer = setInterval(tick, (tty ? 1 : intervalSecs) * 1000)
  await new Promise<void>((resolve) => {
    // Both listeners go on the first signal, so a second one (while closing hangs) is not
    // swallowed by the one left over.
    const stop = () => {
      process.removeListener('SIGINT', stop)
      process.removeListener('SIGTERM', stop)
      resolve()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  clearInterval(timer)
  if (tty) process.stdout.write('\r\x1b[K')
}
