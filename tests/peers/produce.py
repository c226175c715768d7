"""Produces the peer test records with confluent-kafka (librdkafka).

usage: produce.py BOOTSTRAP TOPIC COMPRESSION

Record i of 0..40: key None when i % 4 == 0 else "key-{i}"; value empty when
i % 5 == 0 else "value-{i}"; headers idx=i, dup=a, dup=null when i % 3 == 0;
timestamp 1600000000000 + i. Then one record with key "big" and a 900000-byte
value, byte j = (j * 7) % 251. tests/simple_consumer_peers.rs expects exactly these.
"""
import sys
from confluent_kafka import Producer

bootstrap, topic, compression = sys.argv[1:4]
producer = Producer({
    "bootstrap.servers": bootstrap,
    "compression.type": compression,
    "linger.ms": 50,
    "message.max.bytes": 2000000,
})
errors = []


def report(err, _msg):
    if err is not None:
        errors.append(err)


for i in range(40):
    key = None if i % 4 == 0 else f"key-{i}".encode()
    value = b"" if i % 5 == 0 else f"value-{i}".encode()
    headers = [("idx", str(i).encode()), ("dup", b"a"), ("dup", None)] if i % 3 == 0 else None
    producer.produce(topic, value=value, key=key, headers=headers, partition=0,
                     timestamp=1600000000000 + i, on_delivery=report)
producer.flush(30)
big = bytes((j * 7) % 251 for j in range(900000))
producer.produce(topic, value=big, key=b"big", partition=0, on_delivery=report)
left = producer.flush(30)
if errors or left:
    sys.exit(f"delivery failed: {errors}, {left} undelivered")
