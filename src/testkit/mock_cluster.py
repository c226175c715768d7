"""librdkafka's mock cluster, driven over stdin/stdout (kafka-sync testkit).

Run by `kafka_sync::testkit::MockCluster` with the testkit's Python peers:

    python -c "$(cat mock_cluster.py)" BROKERS [DEBUG]

It loads the librdkafka bundled in the confluent-kafka wheel with ctypes,
creates a mock cluster of BROKERS brokers (ids 1..=BROKERS) on loopback ports
and prints one JSON line: {"ok": true, "bootstraps": "host:port,..."}.
Then it reads one JSON command per line on stdin,
{"id": N, "cmd": NAME, "args": [...]}, and answers each with one JSON line
carrying the same id: {"id": N, "ok": true} or
{"id": N, "ok": false, "err": CODE, "name": NAME, "message": TEXT}, CODE being
the rd_kafka_resp_err_t. librdkafka's own log (DEBUG, a comma-separated list of
its `debug` contexts such as "mock,protocol") goes to stderr.

It exits at once when stdin reaches end of file, which happens when the
process that started it exits however it exits: the mock never outlives it.
The function signatures are those of librdkafka's src/rdkafka_mock.h.
"""

import ctypes
import glob
import importlib.util
import json
import os
import sys

c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_int16 = ctypes.c_int16
c_int32 = ctypes.c_int32
c_size_t = ctypes.c_size_t
c_void_p = ctypes.c_void_p

RD_KAFKA_CONSUMER = 1
ERR_INVALID_ARG = -186  # RD_KAFKA_RESP_ERR__INVALID_ARG


SHAREGROUP_SETTERS = (
    "session_timeout",
    "heartbeat_interval",
    "max_delivery_attempts",
    "record_lock_duration",
    "auto_offset_reset",
)


def find_librdkafka():
    spec = importlib.util.find_spec("confluent_kafka")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("confluent_kafka is not installed in " + sys.prefix)
    package = list(spec.submodule_search_locations)[0]
    site = os.path.dirname(package)
    candidates = sorted(glob.glob(os.path.join(site, "confluent_kafka.libs", "librdkafka*.so*")))
    if not candidates:
        raise RuntimeError("no librdkafka*.so in " + os.path.join(site, "confluent_kafka.libs"))
    return candidates[0]


def load(path):
    lib = ctypes.CDLL(path)

    def fn(name, restype, *argtypes):
        f = getattr(lib, name)
        f.restype = restype
        f.argtypes = list(argtypes)
        return f

    api = {
        "conf_new": fn("rd_kafka_conf_new", c_void_p),
        "conf_set": fn("rd_kafka_conf_set", c_int, c_void_p, c_char_p, c_char_p, c_char_p, c_size_t),
        "new": fn("rd_kafka_new", c_void_p, c_int, c_void_p, c_char_p, c_size_t),
        "err2name": fn("rd_kafka_err2name", c_char_p, c_int),
        "err2str": fn("rd_kafka_err2str", c_char_p, c_int),
        "cluster_new": fn("rd_kafka_mock_cluster_new", c_void_p, c_void_p, c_int),
        "bootstraps": fn("rd_kafka_mock_cluster_bootstraps", c_char_p, c_void_p),
        "topic_create": fn("rd_kafka_mock_topic_create", c_int, c_void_p, c_char_p, c_int, c_int),
        "topic_set_error": fn("rd_kafka_mock_topic_set_error", None, c_void_p, c_char_p, c_int),
        "partition_set_leader": fn(
            "rd_kafka_mock_partition_set_leader", c_int, c_void_p, c_char_p, c_int32, c_int32
        ),
        "partition_set_follower": fn(
            "rd_kafka_mock_partition_set_follower", c_int, c_void_p, c_char_p, c_int32, c_int32
        ),
        "broker_set_down": fn("rd_kafka_mock_broker_set_down", c_int, c_void_p, c_int32),
        "broker_set_up": fn("rd_kafka_mock_broker_set_up", c_int, c_void_p, c_int32),
        "broker_set_rtt": fn("rd_kafka_mock_broker_set_rtt", c_int, c_void_p, c_int32, c_int),
        "coordinator_set": fn(
            "rd_kafka_mock_coordinator_set", c_int, c_void_p, c_char_p, c_char_p, c_int32
        ),
        "set_apiversion": fn(
            "rd_kafka_mock_set_apiversion", c_int, c_void_p, c_int16, c_int16, c_int16
        ),
        "push_request_errors_array": fn(
            "rd_kafka_mock_push_request_errors_array",
            None,
            c_void_p,
            c_int16,
            c_size_t,
            ctypes.POINTER(c_int),
        ),
        "clear_request_errors": fn("rd_kafka_mock_clear_request_errors", None, c_void_p, c_int16),
        "group_consumer_session_timeout": fn(
            "rd_kafka_mock_set_group_consumer_session_timeout_ms", None, c_void_p, c_int
        ),
        "group_consumer_heartbeat_interval": fn(
            "rd_kafka_mock_set_group_consumer_heartbeat_interval_ms", None, c_void_p, c_int
        ),
    }
    # Share groups (KIP-932), librdkafka 2.15+: void setters of one int.
    for name in SHAREGROUP_SETTERS:
        api["sharegroup_set_" + name] = fn("rd_kafka_mock_sharegroup_set_" + name, None, c_void_p, c_int)
    # Variadic: (err, rtt_ms) pairs follow the count; argtypes cover the fixed part.
    rtts = lib.rd_kafka_mock_broker_push_request_error_rtts
    rtts.restype = c_int
    api["broker_push_request_error_rtts"] = rtts
    return api


def main():
    brokers = int(sys.argv[1])
    debug = sys.argv[2] if len(sys.argv) > 2 else ""
    out = sys.stdout

    def answer(obj):
        out.write(json.dumps(obj) + "\n")
        out.flush()

    try:
        api = load(find_librdkafka())
    except Exception as e:  # reported to the Rust side, which shows it
        answer({"ok": False, "err": ERR_INVALID_ARG, "name": "_START", "message": str(e)})
        return 1
    errbuf = ctypes.create_string_buffer(512)
    conf = api["conf_new"]()
    if debug:
        if api["conf_set"](conf, b"debug", debug.encode(), errbuf, 512) != 0:
            answer({"ok": False, "err": ERR_INVALID_ARG, "name": "_START", "message": errbuf.value.decode()})
            return 1
    # A client handle is needed for the cluster's bookkeeping only; it has no
    # bootstrap servers and never connects anywhere.
    rk = api["new"](RD_KAFKA_CONSUMER, conf, errbuf, 512)
    if not rk:
        answer({"ok": False, "err": ERR_INVALID_ARG, "name": "_START", "message": errbuf.value.decode()})
        return 1
    mc = api["cluster_new"](rk, brokers)
    if not mc:
        answer({"ok": False, "err": ERR_INVALID_ARG, "name": "_START", "message": "rd_kafka_mock_cluster_new failed"})
        return 1
    answer({"ok": True, "bootstraps": api["bootstraps"](mc).decode()})

    def result(err):
        if err == 0:
            return {"ok": True}
        return {
            "ok": False,
            "err": err,
            "name": (api["err2name"](err) or b"?").decode(),
            "message": (api["err2str"](err) or b"?").decode(),
        }

    def run(cmd, args):
        s = lambda v: v.encode()
        if cmd in ("topic_create",):
            return api[cmd](mc, s(args[0]), int(args[1]), int(args[2]))
        if cmd in ("partition_set_leader", "partition_set_follower"):
            return api[cmd](mc, s(args[0]), int(args[1]), int(args[2]))
        if cmd in ("broker_set_down", "broker_set_up"):
            return api[cmd](mc, int(args[0]))
        if cmd == "broker_set_rtt":
            return api[cmd](mc, int(args[0]), int(args[1]))
        if cmd == "coordinator_set":
            return api[cmd](mc, s(args[0]), s(args[1]), int(args[2]))
        if cmd == "set_apiversion":
            return api[cmd](mc, int(args[0]), int(args[1]), int(args[2]))
        if cmd == "topic_set_error":
            api[cmd](mc, s(args[0]), int(args[1]))
            return 0
        if cmd == "push_request_errors":
            codes = [int(c) for c in args[1]]
            array = (c_int * max(len(codes), 1))(*codes)
            api["push_request_errors_array"](mc, int(args[0]), len(codes), array)
            return 0
        if cmd in ("group_consumer_session_timeout", "group_consumer_heartbeat_interval"):
            api[cmd](mc, int(args[0]))
            return 0
        if cmd == "clear_request_errors":
            api[cmd](mc, int(args[0]))
            return 0
        if cmd == "broker_push_request_error_rtts":
            pairs = [c for pair in args[2] for c in (c_int(int(pair[0])), c_int(int(pair[1])))]
            return api[cmd](
                c_void_p(mc), c_int32(int(args[0])), c_int16(int(args[1])), c_size_t(len(args[2])), *pairs
            )
        if cmd == "sharegroup_set":
            if args[0] not in SHAREGROUP_SETTERS:
                raise ValueError("unknown share-group setting " + repr(args[0]))
            api["sharegroup_set_" + args[0]](mc, int(args[1]))
            return 0
        if cmd == "ping":
            return 0
        raise ValueError("unknown command " + repr(cmd))

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        request = {}
        try:
            request = json.loads(line)
            reply = result(run(request["cmd"], request.get("args", [])))
        except Exception as e:  # a malformed command, not a broker error
            reply = {"ok": False, "err": ERR_INVALID_ARG, "name": "_INVALID_ARG", "message": repr(e)}
        reply["id"] = request.get("id") if isinstance(request, dict) else None
        answer(reply)
    # End of file: the owner is gone. Exit without tearing the cluster down,
    # which could wait on its threads; the kernel closes every socket.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
