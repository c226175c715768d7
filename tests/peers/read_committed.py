"""Reads a topic with confluent-kafka in read_committed isolation, for
tests/transactions_interop.rs.

usage: read_committed.py BOOTSTRAP TOPIC PARTITIONS IDLE_SECONDS

Reads every partition of TOPIC from the start until nothing new arrives for
IDLE_SECONDS (after reaching each partition's end), and prints
"partition<TAB>value" per record, values as UTF-8 text, in the order read.
"""
import sys, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING, KafkaError

bootstrap, topic, partitions, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = Consumer({'bootstrap.servers': bootstrap, 'group.id': 'kafka-sync-read-committed',
              'enable.auto.commit': False, 'isolation.level': 'read_committed',
              'enable.partition.eof': True})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
at_end, last, deadline = set(), time.time(), time.time() + 60
while time.time() < deadline:
    m = c.poll(0.2)
    if m is None:
        if len(at_end) == partitions and time.time() - last > idle:
            break
        continue
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            at_end.add(m.partition())
            continue
        sys.exit('consume failed: %s' % m.error())
    at_end.discard(m.partition())
    last = time.time()
    print('%d\t%s' % (m.partition(), m.value().decode()), flush=True)
c.close()
if len(at_end) < partitions:
    sys.exit('did not reach the end of every partition within 60 s')
