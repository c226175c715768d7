#!/usr/bin/env bash
# Installs the Python interoperability peers the way `kafka_sync::testkit`
# does (testkit::python_peers): a virtual environment with the pinned
# confluent-kafka (librdkafka 2.16.0 inside its wheel, also the mock cluster)
# and kafka-python, checked by importing both, renamed into place atomically.
#
# Usage: scripts/install-peers.sh [DIR]
#   DIR defaults to ${CARGO_TARGET_DIR:-<repo>/target}/kafka-sync-peers/venv,
#   where the testkit looks. Prints the venv's python on stdout (progress and
#   pip's output go to stderr). Idempotent: a checked venv is kept.
#   KAFKA_SYNC_PYTHON names the interpreter that creates the venv (python3).
set -euo pipefail

readonly CONFLUENT_KAFKA_VERSION=2.16.1
readonly KAFKA_PYTHON_VERSION=3.0.12
readonly REQUIREMENTS=("confluent-kafka==$CONFLUENT_KAFKA_VERSION" "kafka-python==$KAFKA_PYTHON_VERSION")
# Keep in sync with src/testkit/python.rs (MARKER, marker_text).
readonly MARKER=kafka-sync-peers.txt
readonly BASE_PYTHON=${KAFKA_SYNC_PYTHON:-python3}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
venv=${1:-${CARGO_TARGET_DIR:-$repo_root/target}/kafka-sync-peers/venv}
parent=$(dirname "$venv")
mkdir -p "$parent"
parent=$(cd "$parent" && pwd -P)
venv=$parent/$(basename "$venv")

marker_text() {
    printf '%s\n' "${REQUIREMENTS[@]}"
}

check() {
    local found
    found=$("$1/bin/python" -c 'import confluent_kafka, kafka; print(confluent_kafka.__version__, kafka.__version__)') || return 1
    [[ $found == "$CONFLUENT_KAFKA_VERSION $KAFKA_PYTHON_VERSION" ]]
}

if [[ -f $venv/$MARKER && $(cat "$venv/$MARKER") == "$(marker_text)" ]] && check "$venv" 2>/dev/null; then
    echo "$venv/bin/python"
    exit 0
fi

if ! command -v "$BASE_PYTHON" >/dev/null; then
    echo "install-peers: $BASE_PYTHON not found; install Python 3 (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
echo "install-peers: creating a Python venv with ${REQUIREMENTS[*]} in $venv" >&2
scratch=$(mktemp -d "$parent/.venv.XXXXXX")
stale=
trap 'rm -rf "$scratch" ${stale:+"$stale"}' EXIT

if ! "$BASE_PYTHON" -m venv "$scratch" >&2; then
    echo "install-peers: $BASE_PYTHON -m venv failed; the venv module or ensurepip is missing (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
fi
if ! "$scratch/bin/python" -m pip install --quiet --no-input --disable-pip-version-check "${REQUIREMENTS[@]}" >&2; then
    echo "install-peers: pip could not install ${REQUIREMENTS[*]}; check that PyPI is reachable (pip honours HTTPS_PROXY, PIP_INDEX_URL and PIP_FIND_LINKS)" >&2
    exit 1
fi
if ! check "$scratch"; then
    echo "install-peers: the new venv does not import confluent-kafka $CONFLUENT_KAFKA_VERSION and kafka-python $KAFKA_PYTHON_VERSION" >&2
    exit 1
fi
marker_text >"$scratch/$MARKER"

if [[ -e $venv ]]; then
    stale=$parent/.stale-venv.$$
    mv "$venv" "$stale" 2>/dev/null || true
fi
# A rename onto a non-empty directory fails, so a concurrent provisioner's
# venv is never replaced half-way; use it if it won.
if ! mv -T "$scratch" "$venv" 2>/dev/null; then
    if ! check "$venv"; then
        echo "install-peers: could not move the venv into $venv" >&2
        exit 1
    fi
fi
echo "$venv/bin/python"
