// Events by type name, for code that has no class for them (tools, bridges, loggers): a class
// made from a wire type name, name validation, and the topic an event arrived under.
import { call } from './errors'
import { Event, type EventClass } from './event'
import { native } from './load-addon'

/**
 * Throws a TypeError naming the problem unless `name` can be an event type name on the wire
 * (non-empty, at most 256 bytes of UTF-8, and no `.`, which separates topic segments).
 */
export function validateTypeName(name: string): void {
  if (typeof name !== 'string') throw new TypeError(`an event type name must be a string, got ${typeof name}`)
  call(() => native.validateTypeName(name))
}

const byName = new Map<string, EventClass<Event>>()

/**
 * The event class for a wire type name, for receiving and sending events without declaring a
 * class: `sub.subscribe(eventClass('KernelStatusChanged'))` (or just the name), and
 * `pub.publish(new (eventClass('Note'))({ text: 'hi' }))`. The same name always gives the same
 * class. Its events have no topic of their own; see {@link receivedTopic} for the one they
 * arrived under.
 */
export function eventClass(name: string): EventClass<Event> {
  let cls = byName.get(name)
  if (cls === undefined) {
    validateTypeName(name)
    cls = class extends Event {
      static override eventName = name
    }
    Object.defineProperty(cls, 'name', { value: name })
    byName.set(name, cls)
  }
  return cls
}

/** Where a subscriber with `keepTopic` puts each event's topic frame (`Type.topic.`). */
export const RECEIVED_FRAME: unique symbol = Symbol('juice.receivedFrame')

/**
 * The topic an event arrived under (`null` when it had none), for events from a subscriber
 * created with `keepTopic: true`; `undefined` for any other event.
 */
export function receivedTopic(event: Event): string | null | undefined {
  const frame = (event as unknown as { [RECEIVED_FRAME]?: string })[RECEIVED_FRAME]
  if (frame === undefined) return undefined
  const rest = frame.slice(frame.indexOf('.') + 1, -1)
  return rest.length > 0 ? rest : null
}

/** The type name at the head of a topic frame. */
export function typeOfFrame(frame: string): string {
  return frame.slice(0, frame.indexOf('.'))
}
