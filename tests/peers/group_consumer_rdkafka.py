"""A confluent-kafka (librdkafka) group member that consumes, for
tests/balanced_consumer.rs (a group shared with a librdkafka consumer) and
tests/group_protocol_consumer_interop.rs (the same in a KIP-848 group).

usage: group_consumer_rdkafka.py BOOTSTRAP GROUP TOPIC STRATEGY SECONDS

STRATEGY is a classic partition.assignment.strategy, or "kip848" for
group.protocol=consumer (the broker assigns; callbacks get increments, and
lost partitions are reported as "lost").

Prints one JSON line per rebalance callback ({"event": "assign"|"revoke"|
"lost", "partitions": [...]}) and per message ({"event": "message",
"partition", "offset", "value"}); commits automatically every 500 ms (and on
revocation); leaves the group after SECONDS, then prints {"event": "closed"}.
"""
import json, sys, time
from confluent_kafka import Consumer
bootstrap, group, topic, strategy, seconds = sys.argv[1:6]
def report(kind):
    def cb(consumer, partitions):
        print(json.dumps({"event": kind, "partitions": [p.partition for p in partitions]}), flush=True)
    return cb
conf = {
    "bootstrap.servers": bootstrap,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": True,
    "auto.commit.interval.ms": 500,
}
callbacks = {"on_assign": report("assign"), "on_revoke": report("revoke")}
if strategy == "kip848":
    # The consumer protocol refuses the classic group settings.
    conf["group.protocol"] = "consumer"
    callbacks["on_lost"] = report("lost")
else:
    conf.update({
        "partition.assignment.strategy": strategy,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    })
c = Consumer(conf)
c.subscribe([topic], **callbacks)
end = time.time() + float(seconds)
while time.time() < end:
    m = c.poll(0.1)
    if m is not None and not m.error():
        print(json.dumps({"event": "message", "partition": m.partition(), "offset": m.offset(),
                          "value": m.value().decode()}), flush=True)
c.close()
print(json.dumps({"event": "closed"}), flush=True)
