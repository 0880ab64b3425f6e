"""Publishes KernelStatusChanged events with the real Python Juice publisher.

usage: python publish_kernel_status.py tcp://127.0.0.1:5122 [count]
"""

import sys
import time

from orangeqs.juice.messaging.protocol import Event
from orangeqs.juice.messaging.zmq import ZMQPublisherBlocking


class KernelStatusChanged(Event):
    service: str
    status: str

    def topic(self) -> str:
        return self.service


uri = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
pub = ZMQPublisherBlocking(uri)
for i in range(count):
    pub.publish(KernelStatusChanged(service="q1", status="busy" if i % 2 else "idle"))
time.sleep(2)  # upstream publishers close with linger 0: let the events leave first
pub.close()
