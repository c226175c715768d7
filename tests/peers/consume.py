"""Reads records back with confluent-kafka, for tests/producer_interop.rs.

usage: consume.py BOOTSTRAP TOPIC PARTITIONS N

Reads N records from every partition of TOPIC from the start and prints
"partition offset timestamp key value headers" (tab-separated), bytes in hex
("-" for null, '""' for empty), headers as key=value pairs joined by commas.
"""
import sys, time, confluent_kafka
from confluent_kafka import TopicPartition, OFFSET_BEGINNING
bootstrap, topic, partitions, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = confluent_kafka.Consumer({'bootstrap.servers': bootstrap, 'group.id': 'kafka-sync-interop',
                              'enable.auto.commit': False})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
h = lambda b: '-' if b is None else (b.hex() or '""')
got, deadline = 0, time.time() + 30
while got < n and time.time() < deadline:
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        sys.exit('consume failed: %s' % m.error())
    headers = ','.join('%s=%s' % (k.encode().hex(), h(v)) for k, v in (m.headers() or []))
    print('%d\t%d\t%d\t%s\t%s\t%s' % (m.partition(), m.offset(), m.timestamp()[1],
                                      h(m.key()), h(m.value()), headers or '-'))
    got += 1
c.close()
if got < n:
    sys.exit('read %d of %d records' % (got, n))
