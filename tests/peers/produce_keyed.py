"""Produces keyed records with confluent-kafka's murmur2_random partitioner,
for tests/producer_interop.rs.

usage: produce_keyed.py BOOTSTRAP TOPIC N

Produces key-0 ... key-{N-1} (value "v") and prints "key<TAB>partition" per
delivered record.
"""
import sys, confluent_kafka
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = confluent_kafka.Producer({'bootstrap.servers': bootstrap, 'partitioner': 'murmur2_random'})
out, errors = {}, []
def delivered(err, msg):
    if err:
        errors.append(str(err))
    else:
        out[msg.key().decode()] = msg.partition()
for i in range(n):
    p.produce(topic, key=('key-%d' % i).encode(), value=b'v', on_delivery=delivered)
p.flush(30)
if errors or len(out) != n:
    sys.exit('delivery failed: %r (%d of %d)' % (errors[:3], len(out), n))
for k, v in out.items():
    print('%s\t%d' % (k, v))
