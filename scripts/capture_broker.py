"""A fake Kafka broker, just enough for a producer to deliver to it, that
keeps the raw `records` bytes of every Produce request.

scripts/make-record-vectors.py uses it to capture batches written by
librdkafka (through the confluent-kafka package) without a real broker. It
speaks ApiVersions v0-3, Metadata v1-4 and Produce v3-7, advertises one broker
(itself) leading partition 0 of every topic asked for, and answers every
Produce with success. Loopback only; stops with the process.
"""

import socket
import struct
import threading


def _string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _read_string(buf, at):
    (n,) = struct.unpack_from(">h", buf, at)
    at += 2
    if n < 0:
        return None, at
    return buf[at:at + n].decode(), at + n


def _uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class CaptureBroker:
    """Listens on 127.0.0.1:<port>; `batches` collects (topic, partition,
    records bytes) in arrival order."""

    API_VERSIONS, METADATA, PRODUCE = 18, 3, 0

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.batches = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                head = self._read(conn, 4)
                if head is None:
                    return
                (size,) = struct.unpack(">i", head)
                frame = self._read(conn, size)
                api_key, version, correlation_id = struct.unpack_from(">hhi", frame, 0)
                _, at = _read_string(frame, 8)
                body = self._answer(api_key, version, frame, at)
                if body is None:
                    continue  # acks=0: no response
                reply = struct.pack(">i", correlation_id) + body
                conn.sendall(struct.pack(">i", len(reply)) + reply)
        except (OSError, struct.error):
            return
        finally:
            conn.close()

    @staticmethod
    def _read(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _answer(self, api_key, version, frame, at):
        if api_key == self.API_VERSIONS:
            # librdkafka enables record batches (magic 2) and zstd only when
            # Fetch is advertised too (v4 and v10), and lz4 only with
            # FindCoordinator, though a producer sends neither.
            apis = [
                (self.PRODUCE, 3, 7),
                (1, 0, 11),
                (self.METADATA, 1, 4),
                (10, 0, 2),
                (self.API_VERSIONS, 0, 3),
            ]
            if version >= 3:
                out = struct.pack(">h", 0) + _uvarint(len(apis) + 1)
                for key, lo, hi in apis:
                    out += struct.pack(">hhh", key, lo, hi) + b"\x00"
                return out + struct.pack(">i", 0) + b"\x00"
            out = struct.pack(">hi", 0, len(apis))
            for key, lo, hi in apis:
                out += struct.pack(">hhh", key, lo, hi)
            return out + (struct.pack(">i", 0) if version >= 1 else b"")
        if api_key == self.METADATA:
            (count,) = struct.unpack_from(">i", frame, at)
            at += 4
            topics = []
            for _ in range(max(count, 0)):
                name, at = _read_string(frame, at)
                topics.append(name)
            out = struct.pack(">i", 0) if version >= 3 else b""
            out += struct.pack(">i", 1) + struct.pack(">i", 1) + _string("127.0.0.1")
            out += struct.pack(">i", self.port) + struct.pack(">h", -1)  # rack: null
            if version >= 2:
                out += struct.pack(">h", -1)  # cluster id: null
            out += struct.pack(">i", 1)  # controller
            out += struct.pack(">i", len(topics))
            for name in topics:
                out += struct.pack(">h", 0) + _string(name) + b"\x00"
                out += struct.pack(">i", 1)  # one partition
                out += struct.pack(">hii", 0, 0, 1)  # error, index, leader
                out += struct.pack(">ii", 1, 1) + struct.pack(">ii", 1, 1)  # replicas, isr
            return out
        if api_key == self.PRODUCE:
            _, at = _read_string(frame, at)  # transactional id
            acks, _timeout, topic_count = struct.unpack_from(">hii", frame, at)
            at += 10
            answers = []
            for _ in range(topic_count):
                topic, at = _read_string(frame, at)
                (partition_count,) = struct.unpack_from(">i", frame, at)
                at += 4
                for _ in range(partition_count):
                    partition, size = struct.unpack_from(">ii", frame, at)
                    at += 8
                    with self.lock:
                        self.batches.append((topic, partition, bytes(frame[at:at + size])))
                    at += size
                    answers.append((topic, partition))
            if acks == 0:
                return None
            out = struct.pack(">i", len(answers))
            for topic, partition in answers:
                out += _string(topic) + struct.pack(">i", 1)
                out += struct.pack(">ihqq", partition, 0, 0, -1)
                if version >= 5:
                    out += struct.pack(">q", 0)
            return out + struct.pack(">i", 0)
        raise OSError("unexpected api key %d" % api_key)
