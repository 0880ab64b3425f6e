// Type tests (compiled by __test__/types.test.js with tsc, strict): what subscribe() does to the
// event type. Each `@ts-expect-error` line must fail to compile; if it compiles, tsc reports the
// directive as unused and the test fails.
import { Event, SubscriberAsync, SubscriberBlocking } from 'juice-messaging'

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false
function assertType<T extends true>(): T | undefined {
  return undefined
}

class A extends Event {
  declare a: number
}
class B extends Event {
  declare b: string
}
const uri = 'tcp://127.0.0.1:5123'

export async function asyncSubscriber(): Promise<void> {
  const sub = new SubscriberAsync(uri).subscribe(A).subscribe(B, { topic: 'x' })
  const ev = await sub.get()
  assertType<Equal<typeof ev, A | B>>()
  if (ev instanceof A) assertType<Equal<typeof ev, A>>()
  // @ts-expect-error: without narrowing, an A | B event has no field b
  ev.b.toUpperCase()
  for await (const e of sub) assertType<Equal<typeof e, A | B>>()
  const byName = new SubscriberAsync(uri).subscribe('KernelStatusChanged')
  assertType<Equal<Awaited<ReturnType<typeof byName.get>>, Event>>()
  // @ts-expect-error: an explicit type argument would type B events as A
  new SubscriberAsync<A>(uri).subscribe(B)
  await using scoped = new SubscriberAsync(uri).subscribe(A)
  assertType<Equal<Awaited<ReturnType<typeof scoped.get>>, A>>()
}

export function blockingSubscriber(): void {
  const sub = new SubscriberBlocking(uri).subscribe(A)
  assertType<Equal<ReturnType<typeof sub.get>, A>>()
  const both = sub.subscribe(B)
  assertType<Equal<ReturnType<typeof both.get>, A | B>>()
  const all: Event = new SubscriberBlocking(uri).subscribeAll().get(1)
  void all
  // @ts-expect-error: the same for the blocking subscriber
  new SubscriberBlocking<A>(uri)
  using scoped = new SubscriberBlocking(uri).subscribe(B)
  assertType<Equal<ReturnType<typeof scoped.get>, B>>()
}
