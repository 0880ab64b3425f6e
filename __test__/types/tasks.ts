// Type tests for tasks: Task.define<D>() types a task's data and fields; handlers get the class.
import { Task, TaskClient, TaskServer } from 'juice-messaging'

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false
function assertType<T extends true>(): T | undefined {
  return undefined
}

class Calibrate extends Task.define<{ qubit: number; mode?: 'fast' | 'full' }>() {
  static override parallel = true
}

export async function typedTasks(): Promise<void> {
  const task = new Calibrate({ qubit: 3 })
  assertType<Equal<typeof task.qubit, number>>()
  // @ts-expect-error: a misspelt field
  new Calibrate({ qbit: 3 })
  // @ts-expect-error: a value of the wrong type
  new Calibrate({ qubit: 3, mode: 'slow' })
  const server = await TaskServer.start({ port: 0 })
  server.register(Calibrate, (t) => {
    assertType<Equal<typeof t.qubit, number>>()
    return t.qubit * 2
  })
  const client = new TaskClient(`ws://127.0.0.1:${server.port}`)
  const result: unknown = await client.execute('svc', task, { timeout: 1 })
  void result
  await client.close()
  await server.close()
}
