"""Interop peer driven by __test__/interop.test.js, built on the REAL upstream classes from
orangeqs-juice-core (orangeqs.juice.messaging.zmq). One JSON object per stdout line.

  peer.py proxy                                  run upstream's ZMQProxy on free loopback ports
  peer.py sub URI async|blocking SUBS EXPECT     subscribe, report events
  peer.py pub URI async|blocking EVENTS          send probes until stdin says "go", then EVENTS
  peer.py pub-first URI async|blocking           publish one Telemetry at once; report how long it took

Publishers close once stdin says "close" (or ends): upstream closes with linger 0, which drops
whatever libzmq has not written yet, so the test says when it has everything.
  peer.py line RECORDS                           upstream's line protocol and JSON for each record
"""

import asyncio
import hashlib
import json
import sys
import threading
import time

import zmq
from orangeqs.juice.messaging.zmq import (
    ZMQProxy,
    ZMQPublisherAsync,
    ZMQPublisherBlocking,
    ZMQSubscriberAsync,
    ZMQSubscriberBlocking,
)

from juice_events import TYPES, Probe, Telemetry


def say(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def describe(ev):
    data = ev.model_dump(mode="json")
    blob = data.get("blob")
    if blob:
        data["blob"] = f"len:{len(blob)}:md5:{hashlib.md5(blob.encode()).hexdigest()}"
    t = ev.time
    return {
        "type": type(ev).__name__,
        "topic": ev.topic(),
        "data": data,
        "time": t.isoformat(),
        "microsecond": t.microsecond,
        "utcoffset": t.utcoffset().total_seconds() if t.utcoffset() is not None else None,
    }


async def run_proxy():
    proxy = ZMQProxy("tcp://127.0.0.1:*", "tcp://127.0.0.1:*")
    # The reference proxy binds on construction; read back the ports it got.
    say(
        frontend=proxy._sub.getsockopt(zmq.LAST_ENDPOINT).decode(),
        backend=proxy._pub.getsockopt(zmq.LAST_ENDPOINT).decode(),
    )
    await proxy.run()


def subscribe(sub, subs):
    for name, topic in subs:
        sub.subscribe(TYPES[name], topic=topic)
    sub.subscribe(Probe)


def report(ev, state):
    if isinstance(ev, Probe):
        if not state["probed"]:
            state["probed"] = True
            say(probe=True)
        return
    state["count"] += 1
    say(event=describe(ev))


def run_sub_blocking(uri, subs, expect, deadline):
    sub = ZMQSubscriberBlocking(uri)
    subscribe(sub, subs)
    say(ready=True)
    state = {"probed": False, "count": 0}
    while state["count"] < expect and time.monotonic() < deadline:
        try:
            ev = sub.get(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        report(ev, state)
    say(done=state["count"])
    sub.close()


async def run_sub_async(uri, subs, expect, deadline):
    sub = ZMQSubscriberAsync(uri)
    subscribe(sub, subs)
    say(ready=True)
    state = {"probed": False, "count": 0}
    while state["count"] < expect and time.monotonic() < deadline:
        try:
            ev = await sub.get(timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        report(ev, state)
    say(done=state["count"])
    sub.close()


def build(events):
    return [TYPES[e["type"]](**e["fields"]) for e in events]


def wait_for_go():
    go = threading.Event()

    def reader():
        for line in sys.stdin:
            if line.strip() == "go":
                go.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    return go


def wait_for_close():
    """Blocks until stdin says "close" or ends."""
    for line in sys.stdin:
        if line.strip() == "close":
            return


def run_pub_blocking(uri, events):
    pub = ZMQPublisherBlocking(uri)
    go = wait_for_go()
    while not go.is_set():
        pub.publish(Probe())
        time.sleep(0.05)
    for ev in build(events):
        pub.publish(ev)
    say(sent=len(events))
    wait_for_close()
    pub.close()


async def run_pub_async(uri, events):
    pub = ZMQPublisherAsync(uri)
    go = wait_for_go()
    while not go.is_set():
        await pub.publish(Probe())
        await asyncio.sleep(0.05)
    for ev in build(events):
        await pub.publish(ev)
    say(sent=len(events))
    # In a thread, so the event loop (and the socket's sending) goes on meanwhile.
    await asyncio.to_thread(wait_for_close)
    pub.close()


def run_pub_first(uri, mode):
    """Publishes one event right after construction and reports how long publish() took: an
    upstream publisher waits up to 5 s there for the proxy's first subscription notice."""
    ev = Telemetry(path="first", value=1.0)
    start = time.monotonic()
    if mode == "async":

        async def go():
            pub = ZMQPublisherAsync(uri)
            await pub.publish(ev)
            return pub

        pub = asyncio.run(go())
    else:
        pub = ZMQPublisherBlocking(uri)
        pub.publish(ev)
    took = time.monotonic() - start
    say(sent=1, publish_s=took)
    wait_for_close()
    pub.close()


def run_line(records):
    """For each record, upstream's line protocol (orangeqs.juice.database.Point through the
    influxdb-client encoder) and the pydantic JSON of the same data, as an event would carry it."""
    from typing import Annotated, ClassVar

    from orangeqs.juice.database import Point
    from orangeqs.juice.messaging.protocol import Event

    class Reading(Point):
        measurement: ClassVar[str] = "reading"
        kelvin: float
        count: int
        on: bool
        label: str
        whole: float
        flag: Annotated[bool, "tag"]
        level: Annotated[float, "tag"]
        site: Annotated[str, "tag"]

    class ReadingEvent(Event):
        kelvin: float
        count: int
        on: bool
        label: str
        whole: float
        flag: bool
        level: float
        site: str

    for r in records:
        data = {k: float(v) if k == "kelvin" and isinstance(v, str) else v for k, v in r.items()}
        say(line=Reading(**data).to_influxdb2().to_line_protocol(), json=ReadingEvent(**data).model_dump_json())


def main(argv):
    role = argv[1]
    if role == "proxy":
        asyncio.run(run_proxy())
    elif role == "sub":
        uri, mode, subs, expect = argv[2], argv[3], json.loads(argv[4]), int(argv[5])
        deadline = time.monotonic() + 20
        if mode == "async":
            asyncio.run(run_sub_async(uri, subs, expect, deadline))
        else:
            run_sub_blocking(uri, subs, expect, deadline)
    elif role == "pub":
        uri, mode, events = argv[2], argv[3], json.loads(sys.stdin.readline())
        if mode == "async":
            asyncio.run(run_pub_async(uri, events))
        else:
            run_pub_blocking(uri, events)
    elif role == "line":
        run_line(json.loads(argv[2]))
    elif role == "pub-first":
        run_pub_first(argv[2], argv[3])
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv)
