"""A confluent-kafka (librdkafka) group member that only takes part in
rebalances, for tests/group_membership.rs.

usage: group_member_rdkafka.py BOOTSTRAP GROUP TOPIC STRATEGY SECONDS

Prints one JSON line per rebalance callback ({"event": "assign"|"revoke",
"partitions": [...]}); commits nothing; leaves the group after SECONDS.
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
    "enable.auto.commit": False,
})
c.subscribe([topic], on_assign=report("assign"), on_revoke=report("revoke"))
end = time.time() + float(seconds)
while time.time() < end:
    c.poll(0.1)
c.close()
