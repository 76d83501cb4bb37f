#!/usr/bin/env bash
# Profiles one bench workload with `perf` and says where the CPU went, by component:
# signatures, hashing, sled, TLS, the gRPC protocol stack, JSON, allocation, the kernel.
#
#   tests/bench/profile.sh fan-out --receivers 9 --records 5000
#   tests/bench/profile.sh writes --writers 64 --records 200000
#   PROFILE_DELAY_MS=12000 tests/bench/profile.sh catch-up --records 300000 --runs 2
#
# Writes target/bench/profile-<workload>.txt (the breakdown) and keeps perf's data beside it
# for `perf report -i`. Needs `perf` (Debian's linux-perf).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -eq 0 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
command -v perf >/dev/null || { echo "profile.sh: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
cargo build --release -p fenghuo-tests --bin bench >&2
mkdir -p target/bench
name=$1
data=target/bench/profile-$name.data
out=target/bench/profile-$name.txt
# PROFILE_DELAY_MS skips a set-up phase (e.g. a catch-up's fill) before sampling starts.
delay=()
[ -n "${PROFILE_DELAY_MS:-}" ] && delay=(-D "$PROFILE_DELAY_MS")
perf record --call-graph dwarf,16384 -F 299 "${delay[@]}" -o "$data" target/release/bench "$@" >&2
perf script -i "$data" -F ip,sym,dso 2>/dev/null | python3 -c '
import re, sys
# A sample belongs to the first component found walking its stack up from the leaf, so an
# allocation or a memcpy is charged to whoever made it, and kernel time to whoever called in.
rules = [
    ("loopback TCP (send, receive, poll)", r"mio::|tokio::net::|TcpStream|tokio::runtime::io"),
    ("signatures (Ed25519)", r"ed25519|curve25519_dalek"),
    ("hashing (SHA-256)", r"sha2::|sha256"),
    ("TLS (rustls, AES-GCM)", r"rustls|aes_gcm|aes_hw|ring_core|tokio_rustls"),
    ("gRPC stack (tonic, hyper, h2, prost)", r"tonic|hyper|h2::|prost|tower"),
    ("sled", r"sled::|crossbeam_epoch"),
    ("JSON (serde_json)", r"serde_json"),
    ("tokio runtime, thread wake-ups", r"tokio::runtime|tokio::sync|parking_lot|std::thread::park|crossbeam_channel"),
    ("Fenghuo code", r"fenghuo|bench::"),
]
def component(sym):
    return next((c for c, rx in rules if re.search(rx, sym)), None)
totals, n = {}, 0
def flush(stack):
    global n
    if not stack:
        return
    n += 1
    kernel = "kernel" in stack[0][0]
    comp = next((c for c in (component(sym) for _, sym in stack) if c), "other")
    if kernel:
        comp = f"kernel, called from {comp}"
    totals[comp] = totals.get(comp, 0) + 1
stack = []
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        flush(stack); stack = []
        continue
    m = re.match(r"\s+\S+\s+(.*?)\s+\((.*)\)\s*$", line)
    if m:
        stack.append((m.group(2), m.group(1)))
    else:
        flush(stack); stack = []
flush(stack)
print(f"{n} samples; each charged to the first component on its stack, from the leaf up:")
print()
print("| component | share of CPU samples |")
print("|---|---|")
for comp, c in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"| {comp} | {100.0 * c / max(n, 1):.1f} % |")
' | tee "$out"
echo "breakdown: $out; data: $data (perf report -i $data)" >&2
