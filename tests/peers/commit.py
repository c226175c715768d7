"""Commits offsets for a group with confluent-kafka, outside any membership.

usage: commit.py BOOTSTRAP TOPIC GROUP PARTITION:OFFSET...
"""
import sys
from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, group = sys.argv[1:4]
offsets = [TopicPartition(topic, int(p), int(o))
           for p, o in (arg.split(":") for arg in sys.argv[4:])]
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False})
result = consumer.commit(offsets=offsets, asynchronous=False)
for tp in result:
    if tp.error is not None:
        sys.exit(f"commit failed: {tp.error}")
consumer.close()
