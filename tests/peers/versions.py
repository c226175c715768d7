"""Prints the versions the peers' environment holds, for
tests/testkit_python.rs.

usage: versions.py

Prints "CONFLUENT_KAFKA_VERSION LIBRDKAFKA_VERSION KAFKA_PYTHON_VERSION".
"""
import confluent_kafka
import kafka

print(confluent_kafka.__version__, confluent_kafka.libversion()[0], kafka.__version__)
