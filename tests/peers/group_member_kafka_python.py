"""A kafka-python group member that only takes part in rebalances, for
tests/group_membership.rs.

usage: group_member_kafka_python.py BOOTSTRAP GROUP TOPIC STRATEGY SECONDS

STRATEGY is range or roundrobin. Prints one JSON line per rebalance callback
({"event": "assign"|"revoke", "partitions": [...]}); commits nothing; leaves
the group after SECONDS.
"""
import json, sys, time
from kafka import KafkaConsumer, ConsumerRebalanceListener
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
bootstrap, group, topic, strategy, seconds = sys.argv[1:6]
assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[strategy]
def report(kind, partitions):
    print(json.dumps({"event": kind, "partitions": [p.partition for p in partitions]}), flush=True)
class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        report("revoke", revoked)
    def on_partitions_assigned(self, assigned):
        report("assign", assigned)
c = KafkaConsumer(
    bootstrap_servers=bootstrap,
    group_id=group,
    partition_assignment_strategy=[assignor],
    session_timeout_ms=6000,
    heartbeat_interval_ms=500,
    enable_auto_commit=False,
)
c.subscribe([topic], listener=Listener())
end = time.time() + float(seconds)
while time.time() < end:
    c.poll(timeout_ms=100)
c.close()
