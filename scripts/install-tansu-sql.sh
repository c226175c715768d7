#!/usr/bin/env bash
# Builds tansu 0.6.0 with its SQLite storage engine (`--features libsql`), the
# only kind of tansu storage that keeps SCRAM credentials: the static build
# the testkit provisions has the memory/S3 engine alone, which acknowledges
# AlterUserScramCredentials without storing anything. tests/admin_scram.rs's
# live SCRAM logins run against this build (TANSU_SQL_BIN).
#
# Usage: scripts/install-tansu-sql.sh [DIR]
#   DIR defaults to ${CARGO_TARGET_DIR:-<repo>/target}/kafka-sync-broker-sql.
#   Prints the binary's path on stdout (progress goes to stderr), so
#   `TANSU_SQL_BIN=$(scripts/install-tansu-sql.sh)` works. Idempotent: an
#   installed binary of the right version is kept. Slow: a release build of
#   several hundred crates (SQLite itself is compiled from C by `cc`).
set -euo pipefail

readonly TANSU_VERSION=0.6.0

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
dest_dir=${1:-${CARGO_TARGET_DIR:-$repo_root/target}/kafka-sync-broker-sql}
mkdir -p "$dest_dir"
dest_dir=$(cd "$dest_dir" && pwd -P)
dest=$dest_dir/bin/tansu

if [[ -x $dest ]] && "$dest" --version 2>/dev/null | grep -q " $TANSU_VERSION\$"; then
    echo "$dest"
    exit 0
fi

echo "building tansu $TANSU_VERSION with SQLite storage into $dest_dir (slow)" >&2
CARGO_TARGET_DIR=$dest_dir/build cargo install tansu --version "$TANSU_VERSION" \
    --features libsql --locked --root "$dest_dir" >&2
rm -rf "$dest_dir/build"
echo "$dest"
