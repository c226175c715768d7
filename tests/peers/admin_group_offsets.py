"""Reads a consumer group's committed offsets with confluent-kafka's AdminClient.

Usage: admin_group_offsets.py BOOTSTRAP GROUP TOPIC PARTITIONS
Prints one `partition offset` line per partition with a committed offset.
"""
import sys

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient


def main():
    bootstrap, group, topic, partitions = sys.argv[1:5]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(int(partitions))]
    )
    futures = admin.list_consumer_group_offsets([request], request_timeout=20)
    result = futures[group].result(timeout=30)
    for tp in result.topic_partitions:
        if tp.error is not None:
            raise SystemExit(f"partition {tp.partition}: {tp.error}")
        if tp.offset >= 0:
            print(tp.partition, tp.offset)


if __name__ == "__main__":
    main()
