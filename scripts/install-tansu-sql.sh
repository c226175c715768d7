#!/usr/bin/env bash
# Builds tansu 0.6.0 with its SQLite storage engine (`--features libsql`), the
# only kind of tansu storage that keeps SCRAM credentials: the static build
# the testkit provisions has the memory/S3 engine alone, which acknowledges
# AlterUserScramCredentials without storing anything. tests/admin_scram.rs's
# live SCRAM logins run against this build (TANSU_SQL_BIN).
#
# Usage: scripts/install-tansu-sql.sh [DIR]
#   DIR defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/kafka-sync/tansu-0.6.0-libsql,
#   outside the clone, so that later runs on the same machine reuse the build.
#   Prints the binary's path on stdout (progress goes to stderr), so
#   `TANSU_SQL_BIN=$(scripts/install-tansu-sql.sh)` works. Idempotent: an
#   installed binary of the right version is kept. Slow: a release build of
#   several hundred crates (SQLite itself is compiled from C by `cc`).
set -euo pipefail

readonly TANSU_VERSION=0.6.0

dest_dir=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/kafka-sync/tansu-$TANSU_VERSION-libsql}
mkdir -p "$dest_dir"
dest_dir=$(cd "$dest_dir" && pwd -P)
dest=$dest_dir/bin/tansu

built() {
    [[ -x $dest ]] &&
        [[ $("$dest" --version 2>/dev/null) == "tansu $TANSU_VERSION" ]] &&
        [[ $("$dest" --help 2>/dev/null) == *"Storage engines:"*libsql* ]]
}

if built; then
    echo "$dest"
    exit 0
fi

echo "building tansu $TANSU_VERSION with SQLite storage into $dest_dir (slow)" >&2
CARGO_TARGET_DIR=$dest_dir/build cargo install tansu --version "$TANSU_VERSION" \
    --features libsql --locked --root "$dest_dir" >&2
rm -rf "$dest_dir/build"
built || { echo "the build at $dest is not tansu $TANSU_VERSION with libsql" >&2; exit 1; }
echo "$dest"
