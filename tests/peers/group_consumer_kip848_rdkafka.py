"""A confluent-kafka (librdkafka) consumer in a KIP-848 group
(group.protocol=consumer), for tests/group_protocol_consumer_interop.rs.

usage: group_consumer_kip848_rdkafka.py BOOTSTRAP GROUP TOPIC SECONDS

Prints one JSON line per rebalance callback ({"event": "assign"|"revoke"|
"lost", "partitions": [...]}, increments: the consumer protocol is
incremental) and per message ({"event": "message", "partition", "offset",
"value"}); commits automatically every 300 ms (and on revocation); closes,
leaving the group, after SECONDS, then prints {"event": "closed"}.
"""
import json, sys, time
from confluent_kafka import Consumer
bootstrap, group, topic, seconds = sys.argv[1:5]
def report(kind):
    def cb(consumer, partitions):
        print(json.dumps({"event": kind, "partitions": [p.partition for p in partitions]}), flush=True)
    return cb
c = Consumer({
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "group.protocol": "consumer",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 300,
    "fetch.wait.max.ms": 100,
})
c.subscribe([topic], on_assign=report("assign"), on_revoke=report("revoke"), on_lost=report("lost"))
end = time.time() + float(seconds)
while time.time() < end:
    m = c.poll(0.1)
    if m is not None and not m.error():
        print(json.dumps({"event": "message", "partition": m.partition(), "offset": m.offset(),
                          "value": m.value().decode()}), flush=True)
c.close()
print(json.dumps({"event": "closed"}), flush=True)
