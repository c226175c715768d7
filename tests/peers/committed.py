"""Prints a group's committed offsets, read with confluent-kafka.

usage: committed.py BOOTSTRAP TOPIC GROUP PARTITION...
prints one "PARTITION OFFSET" line per partition (-1001: none committed).
"""
import sys
from confluent_kafka import Consumer, TopicPartition

bootstrap, topic, group = sys.argv[1:4]
partitions = [TopicPartition(topic, int(p)) for p in sys.argv[4:]]
consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False})
for tp in consumer.committed(partitions, timeout=20):
    if tp.error is not None:
        sys.exit(f"committed failed: {tp.error}")
    print(tp.partition, tp.offset)
consumer.close()
