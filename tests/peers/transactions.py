"""Writes transactions with confluent-kafka: aborted and committed in turn.

usage: transactions.py BOOTSTRAP TOPIC

Transaction 1 (aborted): aborted-0, aborted-1; 2 (committed): committed-0,
committed-1; 3 (aborted): aborted-2; 4 (committed): committed-2. All to
partition 0.
"""
import sys
from confluent_kafka import Producer

bootstrap, topic = sys.argv[1:3]
producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "tx-" + topic})
producer.init_transactions(20)
for values, commit in [(["aborted-0", "aborted-1"], False),
                       (["committed-0", "committed-1"], True),
                       (["aborted-2"], False),
                       (["committed-2"], True)]:
    producer.begin_transaction()
    for v in values:
        producer.produce(topic, value=v.encode(), partition=0)
    producer.flush(20)
    if commit:
        producer.commit_transaction(20)
    else:
        producer.abort_transaction(20)
