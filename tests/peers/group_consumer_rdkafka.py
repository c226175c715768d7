"""A confluent-kafka (librdkafka) group member that consumes, for
tests/balanced_consumer.rs: a group shared with a librdkafka consumer.

usage: group_consumer_rdkafka.py BOOTSTRAP GROUP TOPIC STRATEGY SECONDS

Prints one JSON line per rebalance callback ({"event": "assign"|"revoke",
"partitions": [...]}) and per message ({"event": "message", "partition",
"offset", "value"}); commits automatically every 500 ms; leaves the group
after SECONDS.
"""
import json, sys, time
from confluent_kafka import Consumer
bootstrap, group, topic, strategy, seconds = sys.argv[1:6]
def report(kind):
    def cb(consumer, partitions):
        print(json.dumps({"event": kind, "partitions": [p.partition for p in partitions]}), flush=True)
    return cb
c = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "partition.assignment.strategy": strategy,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 500,
})
c.subscribe([topic], on_assign=report("assign"), on_revoke=report("revoke"))
end = time.time() + float(seconds)
while time.time() < end:
    m = c.poll(0.1)
    if m is not None and not m.error():
        print(json.dumps({"event": "message", "partition": m.partition(), "offset": m.offset(),
                          "value": m.value().decode()}), flush=True)
c.close()
