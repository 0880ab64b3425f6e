"""Upstream's task server and client for the task interop tests (__test__/tasks.test.js).

  tasks_peer.py server PORT   an upstream TaskServer on 127.0.0.1:PORT answering Add, Boom, Sleep
  tasks_peer.py client URL    an upstream TaskClient sending tasks to URL; one JSON line per result
  tasks_peer.py router PORT SERVICE_PORT  upstream's router (event writers stubbed), target "svc"
  tasks_peer.py bench-server PORT          an upstream TaskServer answering Echo (bench/tasks.js)
  tasks_peer.py bench URL N INFLIGHT       upstream's client: latency and tasks/s against URL
"""
import asyncio
import json
import sys
import time
from typing import ClassVar

from orangeqs.juice.client._task import TaskClient
from orangeqs.juice.schemas.tasks import TaskServerConfig
from orangeqs.juice.service._task_server import TaskServer
from orangeqs.juice.task import Task


class Add(Task):
    a: int
    b: int


class Boom(Task):
    message: str = "no"


class Sleep(Task):
    seconds: float


class ParallelSleep(Task):
    parallel: ClassVar[bool] = True
    seconds: float


def say(**kw):
    print(json.dumps(kw), flush=True)


def serve(port: int) -> None:
    srv = TaskServer(TaskServerConfig(ip="127.0.0.1", port=port))
    srv.register_handler(Add, lambda t: {"sum": t.a + t.b})

    def boom(t: Boom):
        raise ValueError(t.message)

    srv.register_handler(Boom, boom)

    async def sleep(t: Sleep):
        await asyncio.sleep(t.seconds)
        return t.seconds

    srv.register_handler(Sleep, sleep)
    loop = srv.loop
    asyncio.set_event_loop(loop)
    srv.start()
    say(ready=True)
    loop.run_forever()


async def client(url: str) -> None:
    c = TaskClient(url)
    await c.connect()
    say(step="add", reply=await c.execute("node", Add(a=2, b=3)))
    say(step="boom", reply=await c.execute("node", Boom(message="bad value")))
    t0 = time.monotonic()
    replies = await asyncio.gather(*(c.execute("node", ParallelSleep(seconds=0.5)) for _ in range(4)))
    say(step="parallel", seconds=time.monotonic() - t0, replies=replies)
    t0 = time.monotonic()
    replies = await asyncio.gather(*(c.execute("node", Sleep(seconds=0.3)) for _ in range(3)))
    say(step="serial", seconds=time.monotonic() - t0, replies=replies)
    c.close()
    say(done=True)




class Echo(Task):
    parallel: ClassVar[bool] = True
    n: int


async def bench(url: str, n: int, inflight: int) -> None:
    """Round-trip latency (sequential) and tasks/s (INFLIGHT at a time) of upstream's client."""
    c = TaskClient(url)
    await c.connect()
    for i in range(200):
        await c.execute("bench", Echo(n=i))
    lat = []
    for i in range(n // 10):
        t0 = time.perf_counter()
        await c.execute("bench", Echo(n=i))
        lat.append((time.perf_counter() - t0) * 1e6)
    lat.sort()
    t0 = time.perf_counter()
    sent = 0

    async def worker():
        nonlocal sent
        while sent < n:
            sent += 1
            await c.execute("bench", Echo(n=sent))

    await asyncio.gather(*(worker() for _ in range(inflight)))
    seconds = time.perf_counter() - t0
    c.close()
    say(p50_us=lat[len(lat) // 2], p99_us=lat[int(len(lat) * 0.99)], rate=n / seconds)


def serve_bench(port: int) -> None:
    srv = TaskServer(TaskServerConfig(ip="127.0.0.1", port=port))
    srv.register_handler(Echo, lambda t: t.n)
    loop = srv.loop
    asyncio.set_event_loop(loop)
    srv.start()
    say(ready=True)
    loop.run_forever()


def route(port: int, service_port: int) -> None:
    """Upstream's task manager router on PORT, routing target "svc" to 127.0.0.1:SERVICE_PORT.

    It writes its TaskEvents to InfluxDB 2 and publishes them on the bus; neither runs here, so
    those two writers are replaced by stand-ins that print each event as a JSON line instead.
    """
    import orangeqs.juice.task_manager._router as router_module
    from orangeqs.juice.schemas.task_manager import TaskManagerConfig, TaskManagerNetworkConfig
    from orangeqs.juice.schemas.tasks import TaskServerConfigs

    class Writes:
        def write(self, *args, **kwargs):
            pass

    class Publishes:
        def publish(self, event, *args, **kwargs):
            say(event=json.loads(event.model_dump_json()))

    router_module.influxdb2_write_api = lambda *a, **k: Writes()
    router_module.publisher_blocking = lambda *a, **k: Publishes()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    router = router_module.TaskRouter(
        loop,
        TaskManagerConfig(network=TaskManagerNetworkConfig(router_port=port)),
        TaskServerConfigs(services={"svc": TaskServerConfig(ip="127.0.0.1", port=service_port)}),
    )
    loop.run_until_complete(router.start())
    say(ready=True)
    loop.run_forever()


if __name__ == "__main__":
    if sys.argv[1] == "router":
        route(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "server":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "bench-server":
        serve_bench(int(sys.argv[2]))
    elif sys.argv[1] == "bench":
        asyncio.run(bench(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        asyncio.run(client(sys.argv[2]))
