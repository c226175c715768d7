"""confluent-kafka's AdminClient as the peer of tests/admin_configs.rs.

  admin_configs.py describe BOOTSTRAP TOPIC          prints the topic's configs as JSON
  admin_configs.py set BOOTSTRAP TOPIC NAME=VALUE... sets them (IncrementalAlterConfigs)
"""
import json
import sys

from confluent_kafka import admin as ck


def main():
    mode, bootstrap, topic = sys.argv[1:4]
    client = ck.AdminClient({"bootstrap.servers": bootstrap})
    if mode == "describe":
        resource = ck.ConfigResource(ck.ResourceType.TOPIC, topic)
        entries = client.describe_configs([resource])[resource].result(timeout=20)
        print(json.dumps({name: e.value for name, e in entries.items()}))
    elif mode == "set":
        ops = []
        for pair in sys.argv[4:]:
            name, value = pair.split("=", 1)
            ops.append(ck.ConfigEntry(name, value,
                                      incremental_operation=ck.AlterConfigOpType.SET))
        resource = ck.ConfigResource(ck.ResourceType.TOPIC, topic, incremental_configs=ops)
        client.incremental_alter_configs([resource])[resource].result(timeout=20)
        print("ok")
    else:
        raise SystemExit(f"unknown mode {mode}")


main()
