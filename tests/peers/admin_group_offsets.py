"""A consumer group's committed offsets through confluent-kafka's AdminClient.

Usage:
  admin_group_offsets.py BOOTSTRAP GROUP TOPIC read PARTITIONS
      prints one `partition offset` line per partition with a committed offset
  admin_group_offsets.py BOOTSTRAP GROUP TOPIC write PARTITION=OFFSET...
      commits the offsets (AdminClient.alter_consumer_group_offsets)
"""
import sys

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient


def main():
    bootstrap, group, topic, mode, *rest = sys.argv[1:]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if mode == "read":
        partitions = [TopicPartition(topic, p) for p in range(int(rest[0]))]
        futures = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, partitions)], request_timeout=20
        )
    elif mode == "write":
        partitions = [
            TopicPartition(topic, int(p), int(o))
            for p, o in (item.split("=") for item in rest)
        ]
        futures = admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, partitions)], request_timeout=20
        )
    else:
        raise SystemExit(f"unknown mode {mode}")
    result = futures[group].result(timeout=30)
    for tp in result.topic_partitions:
        if tp.error is not None:
            raise SystemExit(f"partition {tp.partition}: {tp.error}")
        if mode == "read" and tp.offset >= 0:
            print(tp.partition, tp.offset)


if __name__ == "__main__":
    main()
