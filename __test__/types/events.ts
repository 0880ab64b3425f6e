// Type tests for event data: Event.define<D>() types the constructor's data and the fields.
import { Event, PublisherAsync } from 'juice-messaging'

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false
function assertType<T extends true>(): T | undefined {
  return undefined
}

class KernelStatusChanged extends Event.define<{ service: string; status: 'idle' | 'busy' }>() {
  static override eventName = 'KernelStatusChanged'
  override topic(): string {
    return this.service
  }
}

export async function typedData(): Promise<void> {
  const ev = new KernelStatusChanged({ service: 'q1', status: 'busy' })
  assertType<Equal<typeof ev.service, string>>()
  assertType<Equal<typeof ev.status, 'idle' | 'busy'>>()
  const stamped = new KernelStatusChanged({ service: 'q1', status: 'idle', time: '2026-11-30T08:00:00.000001Z' })
  assertType<Equal<typeof stamped.time, Date>>()
  // @ts-expect-error: a misspelt field
  new KernelStatusChanged({ servce: 'q1', status: 'busy' })
  // @ts-expect-error: a missing field
  new KernelStatusChanged({ service: 'q1' })
  // @ts-expect-error: a value of the wrong type
  new KernelStatusChanged({ service: 'q1', status: 'asleep' })
  const pub = new PublisherAsync('tcp://127.0.0.1:5122')
  await pub.publish(ev)
  await pub.close()
}

// `declare` fields remain the other way, for classes without typed constructor data.
class Reading extends Event {
  declare kelvin: number
}
export const reading: number = new Reading({ kelvin: 0.01 }).kelvin
