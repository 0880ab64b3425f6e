// Timers for user-given timeouts. setTimeout takes at most 2^31-1 ms (~24.8 days); a longer delay
// fires at once with a TimeoutOverflowWarning. A long timeout is a chain of shorter ones instead,
// and an infinite one never fires.

const MAX_DELAY = 2 ** 31 - 1

export interface Cancellable {
  cancel(): void
}

/** Calls `fn` after `ms` milliseconds, however long; `Infinity` never calls it. Unref'd timers
 * are not used: a pending wait keeps the process alive, as callers expect. */
export function longTimeout(fn: () => void, ms: number): Cancellable {
  let timer: NodeJS.Timeout | undefined
  let cancelled = false
  const deadline = Date.now() + ms
  const arm = (left: number): void => {
    if (cancelled || left === Infinity) return
    timer = setTimeout(() => {
      const rest = deadline - Date.now()
      if (rest > 0) arm(rest)
      else fn()
    }, Math.min(Math.max(left, 0), MAX_DELAY))
  }
  arm(ms)
  return {
    cancel() {
      cancelled = true
      if (timer !== undefined) clearTimeout(timer)
    },
  }
}
