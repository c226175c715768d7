#!/usr/bin/env python3
"""Writes record-batch test vectors made by two independent implementations
of Kafka's record formats, kafka-python (pure Python) and librdkafka (C, through
the confluent-kafka package), into tests/data/records/.

Each vector is a .bin file holding the exact bytes of one or more batches, as
a Fetch response would carry them. tests/data/records/manifest.txt lists, per
file, the batches and records a correct decoder must return; the Rust test
tests/records_interop.rs decodes every file and compares. The script also
reads every file back with kafka-python's own decoder and checks it against
the manifest, so the expectations are not just ours.

kafka-python's record builders are called directly. librdkafka has no such
entry point: a real producer delivers to scripts/capture_broker.py, a fake
broker on loopback that keeps the bytes of every Produce request.

Run from the repository root (the output is checked in; rerun only to change
the vectors):

    python3 -m venv /tmp/recvenv
    /tmp/recvenv/bin/pip install kafka-python python-snappy lz4 zstandard xxhash crc32c confluent-kafka
    /tmp/recvenv/bin/python scripts/make-record-vectors.py

Versions used for the checked-in files: kafka-python 3.0.12, python-snappy
0.7.3, lz4 4.4.5, zstandard 0.25.0, xxhash (for magic-0 lz4's Kafka 0.8
header checksum), confluent-kafka 2.16.1 (librdkafka 2.16.0).

Manifest format, one item per line, fields separated by single spaces:

    file <name>.bin
    batch magic=<m> compression=<c> base_offset=<n> last_offset=<n> count=<n>
          producer_id=<n> producer_epoch=<n> base_sequence=<n>
          transactional=<0|1> control=<0|1> timestamp_type=<create|log_append|none>
    record <offset> <timestamp> <key> <value> [h:<key hex>:<value>]...

(a batch line is one line). A bytes field is `-` for null, `x<hex>` for
literal bytes (`x` alone is empty), or `p<len>` for `len` bytes of the
pattern `i % 251`.
"""

import functools
import gzip
import os
import struct
import zlib

import snappy
from confluent_kafka import Producer
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from kafka.record.util import calc_crc32c

from capture_broker import CaptureBroker

# kafka-python's gzip stamps the current time into each member; a fixed one
# keeps the vectors byte-stable from run to run.
gzip.GzipFile = functools.partial(gzip.GzipFile, mtime=0)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "records")

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
BASE_TS = 1_700_000_000_000


def pattern(n):
    return bytes(i % 251 for i in range(n))


def text(i):
    # Compressible, so that kafka-python keeps the compressed form.
    return ("event number %d: the quick brown fox jumps over the lazy dog " % i * 4).encode()


class Rec:
    """A record as a decoder must return it."""

    def __init__(self, offset, timestamp, key, value, headers=(), value_token=None):
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = list(headers)
        self.value_token = value_token


def token(b, explicit=None):
    if explicit is not None:
        return explicit
    if b is None:
        return "-"
    return "x" + bytes(b).hex()


def v2_records():
    """Timestamps go down once (a negative delta); keys and values cover
    null, empty, and a 40 KB value that spans two snappy blocks."""
    recs = [
        Rec(0, BASE_TS, b"key-0", text(0), [("trace-id", b"abc123"), ("empty", b""), ("null", None)]),
        Rec(1, BASE_TS + 5, None, text(1)),
        Rec(2, BASE_TS + 3, b"", b""),
        Rec(3, BASE_TS + 9, b"tombstone", None),
        Rec(4, BASE_TS + 10, "clé-ü".encode(), text(4), [("ünïcode", "välue".encode()), ("trace-id", b"dup")]),
        Rec(5, BASE_TS + 11, b"big", pattern(40_000), value_token="p40000"),
        Rec(6, BASE_TS + 12, b"last", text(6)),
    ]
    return recs


def build_v2(codec, recs, producer=(-1, -1, -1), transactional=False):
    pid, epoch, seq = producer
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=CODECS[codec], is_transactional=transactional,
        producer_id=pid, producer_epoch=epoch, base_sequence=seq, batch_size=1 << 20)
    for r in recs:
        meta = builder.append(r.offset, r.timestamp, r.key, r.value, r.headers)
        assert meta is not None
    return bytes(builder.build())


def set_base_offset(batch, base_offset):
    # The base offset precedes the CRC'd part, as a broker's assignment does.
    return struct.pack(">q", base_offset) + batch[8:]


def rewrite_v2(batch, attributes=None, records_section=None):
    """Changes a v2 batch's attributes and/or records section, fixing the
    length and the CRC-32C."""
    batch = bytearray(batch)
    if attributes is not None:
        struct.pack_into(">h", batch, 21, attributes)
    if records_section is not None:
        batch = batch[:61] + records_section
        struct.pack_into(">i", batch, 8, len(batch) - 12)
    struct.pack_into(">I", batch, 17, calc_crc32c(memoryview(batch)[21:]))
    return bytes(batch)


def shifted(recs, base):
    return [Rec(r.offset + base, r.timestamp, r.key, r.value, r.headers, r.value_token) for r in recs]


def batch_meta(magic, codec, recs, producer=(-1, -1, -1), transactional=False, control=False, ts_type="create"):
    return {
        "magic": magic, "compression": codec,
        "base_offset": recs[0].offset, "last_offset": recs[-1].offset, "count": len(recs),
        "producer_id": producer[0], "producer_epoch": producer[1], "base_sequence": producer[2],
        "transactional": int(transactional), "control": int(control), "timestamp_type": ts_type,
        "records": recs,
    }


def legacy_set(magic, codec, recs, wrapper_offset=None, log_append_ts=None):
    """A legacy message set. For a compressed one, kafka-python writes the
    wrapper at offset 0, as a producer does; a broker rewrites it to the
    last inner offset, which `wrapper_offset` imitates."""
    builder = LegacyRecordBatchBuilder(magic=magic, compression_type=CODECS[codec], batch_size=1 << 20)
    for r in recs:
        assert builder.append(r.offset, r.timestamp, r.key, r.value) is not None
    data = bytearray(builder.build())
    if codec != "none":
        struct.pack_into(">q", data, 0, wrapper_offset)
        if log_append_ts is not None:
            # Attributes bit 3 and the wrapper timestamp, then a new CRC-32.
            data[17] |= 0x08
            struct.pack_into(">q", data, 18, log_append_ts)
            struct.pack_into(">I", data, 12, zlib.crc32(bytes(data[16:])))
    return bytes(data)


def vectors():
    out = []
    producer = (4242, 7, 100)
    # Magic 2, one file per codec, as kafka-python's producer writes them.
    for codec in CODECS:
        recs = v2_records()
        data = set_base_offset(build_v2(codec, recs, producer), 1000)
        out.append(("v2-%s.bin" % codec, data, [batch_meta(2, codec, shifted(recs, 1000), producer)]))

    # Raw snappy (no Xerial framing), as some non-Java clients write it.
    recs = v2_records()
    plain = build_v2("none", recs)
    raw = snappy.compress(plain[61:])
    data = set_base_offset(rewrite_v2(plain, attributes=CODECS["snappy"], records_section=raw), 50)
    out.append(("v2-snappy-raw.bin", data, [batch_meta(2, "snappy", shifted(recs, 50))]))

    # A transactional batch followed by its commit marker (a control batch).
    recs = [Rec(0, BASE_TS, b"k", b"in a transaction")]
    txn = set_base_offset(build_v2("none", recs, producer, transactional=True), 7)
    marker = [Rec(0, BASE_TS + 100, struct.pack(">hh", 0, 1), struct.pack(">hi", 0, 3))]
    ctl = build_v2("none", marker, (4242, 7, -1), transactional=True)
    ctl = set_base_offset(rewrite_v2(ctl, attributes=0x10 | 0x20), 8)
    out.append(("v2-transaction-commit.bin", txn + ctl, [
        batch_meta(2, "none", shifted(recs, 7), producer, transactional=True),
        batch_meta(2, "none", shifted(marker, 8), (4242, 7, -1), transactional=True, control=True),
    ]))

    # Log-append time: every record takes the batch's max timestamp.
    recs = [Rec(0, BASE_TS, b"a", b"1"), Rec(1, BASE_TS + 1, b"b", b"2")]
    data = set_base_offset(rewrite_v2(build_v2("none", recs), attributes=0x08), 300)
    expected = [Rec(r.offset + 300, BASE_TS + 1, r.key, r.value) for r in recs]
    out.append(("v2-log-append-time.bin", data, [batch_meta(2, "none", expected, ts_type="log_append")]))

    # Legacy message sets.
    for magic in (0, 1):
        ts = (lambda i: -1) if magic == 0 else (lambda i: BASE_TS + i)
        ts_type = "none" if magic == 0 else "create"
        recs = [
            Rec(0, ts(0), b"key-0", text(0)),
            Rec(1, ts(1), None, text(1)),
            Rec(2, ts(2), b"", b""),
            Rec(3, ts(3), b"tombstone", None),
        ]
        # Uncompressed: every message is its own batch.
        base = 500
        msgs = [Rec(r.offset + base, r.timestamp, r.key, r.value) for r in recs]
        out.append(("v%d-none.bin" % magic, legacy_set(magic, "none", msgs),
                    [batch_meta(magic, "none", [m], ts_type=ts_type) for m in msgs]))
        for codec in ("gzip", "snappy", "lz4"):
            base = 2000
            last = base + len(recs) - 1
            if magic == 0:
                # Inner offsets are absolute in magic 0.
                inner = shifted(recs, base)
                data = legacy_set(0, codec, inner, wrapper_offset=last)
            else:
                # Relative in magic 1: 0..n-1, resolved against the wrapper.
                data = legacy_set(1, codec, recs, wrapper_offset=last)
            out.append(("v%d-%s.bin" % (magic, codec), data,
                        [batch_meta(magic, codec, shifted(recs, base), ts_type=ts_type)]))
    # Magic 1 with log-append time on the wrapper.
    recs = [Rec(0, BASE_TS, b"a", text(0)), Rec(1, BASE_TS + 1, b"b", text(1))]
    append_ts = BASE_TS + 999
    data = legacy_set(1, "gzip", recs, wrapper_offset=41, log_append_ts=append_ts)
    expected = [Rec(r.offset + 40, append_ts, r.key, r.value) for r in recs]
    out.append(("v1-gzip-log-append-time.bin", data,
                [batch_meta(1, "gzip", expected, ts_type="log_append")]))
    return out


def librdkafka_vectors():
    """The v2 records again, produced by librdkafka with each codec. It
    writes raw snappy, not the Xerial framing, and leader epoch 0."""
    broker = CaptureBroker()
    out = []
    for codec in CODECS:
        recs = v2_records()
        # librdkafka now and then sends the first record on its own, as soon
        # as the connection is up; try again until it sends one batch.
        for _ in range(10):
            producer = Producer({
                "bootstrap.servers": "127.0.0.1:%d" % broker.port,
                "compression.type": codec,
                "linger.ms": 1000,
                "message.timeout.ms": 10000,
            })
            for r in recs:
                producer.produce("vectors", value=r.value, key=r.key, partition=0,
                                 timestamp=r.timestamp, headers=r.headers)
            assert producer.flush(20) == 0, "librdkafka did not deliver"
            with broker.lock:
                captured = broker.batches[:]
                broker.batches.clear()
            if len(captured) == 1:
                break
        assert len(captured) == 1, "expected one batch, got %d" % len(captured)
        data = set_base_offset(captured[0][2], 1000)
        assert data[22] & 0x07 == CODECS[codec], "librdkafka did not use %s" % codec
        out.append(("rdkafka-v2-%s.bin" % codec, data, [batch_meta(2, codec, shifted(recs, 1000))]))
    return out


def check_with_kafka_python(name, data, batches):
    """kafka-python's decoder must agree with the manifest."""
    records = MemoryRecords(data)
    got = []
    while True:
        batch = records.next_batch()
        if batch is None:
            break
        for r in batch:
            got.append((r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers]))
    want = [(r.offset, r.timestamp, r.key, r.value, [(k, v) for k, v in r.headers])
            for b in batches for r in b["records"]]
    # kafka-python reports magic 0's missing timestamp as None, Kafka as -1.
    got = [(o, -1 if t is None else t, None if k is None else bytes(k), None if v is None else bytes(v), h) for o, t, k, v, h in got]
    assert got == want, "%s: kafka-python disagrees\n%r\n%r" % (name, got[:2], want[:2])


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = ["# Generated by scripts/make-record-vectors.py; see its docstring for the format."]
    for name, data, batches in vectors() + librdkafka_vectors():
        check_with_kafka_python(name, data, batches)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        lines.append("file " + name)
        for b in batches:
            lines.append("batch " + " ".join("%s=%s" % (k, b[k]) for k in (
                "magic", "compression", "base_offset", "last_offset", "count", "producer_id",
                "producer_epoch", "base_sequence", "transactional", "control", "timestamp_type")))
            for r in b["records"]:
                fields = ["record", str(r.offset), str(r.timestamp), token(r.key), token(r.value, r.value_token)]
                for k, v in r.headers:
                    fields.append("h:%s:%s" % (k.encode().hex(), token(v)))
                lines.append(" ".join(fields))
    with open(os.path.join(OUT, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d vectors to %s" % (len(lines), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
