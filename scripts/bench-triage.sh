#!/usr/bin/env bash
# Benchmark `exelock triage` on a batch: 100,000 SCC findings (JSON lines, each naming one or
# two binaries) about one attested image, judged offline against its verified bundle (the
# manifest is verified once and cached; every finding is parsed, judged and rendered as JSONL).
# Baseline in the same run: parsing the same input as plain JSON with `jq -c .` (and Python's
# json module), i.e. the cost of merely reading what triage must read.
# Target: >= 20,000 findings/s.
#
# Memory: findings are read as a stream, so peak RSS must stay flat as the input grows. The
# same findings are judged as JSON lines and as ONE JSON array (MEM_N findings, 1,000,000 by
# default, ~0.8 GB), with peak RSS beside the input size and beside `jq -c .[]` over the array
# (which holds the whole document). Target: < 256 MiB.
#
# Usage: scripts/bench-triage.sh        (N=100000, MEM_N=1000000 by default; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-100000}"
MEM_N="${MEM_N:-1000000}"
TARGET=20000
RSS_TARGET_MIB=256
cargo build --release --quiet
BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/release/exelock"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/exelock-triage-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

export EXELOCK_PASSWORD=bench
"$BIN" generate-key-pair >/dev/null 2>&1
IMAGE="oci:$OLDPWD/testdata/images/traps"
"$BIN" scan "$IMAGE" -q -o manifest.json
"$BIN" attest "$IMAGE" --key cosign.key --bundle bundle.json -q >/dev/null

# Findings: a mix of unchanged, relocated, modified and foreign binaries, some with a library.
python3 - "$N" "$MEM_N" <<'PY'
import json, random, sys
n, mem_n = int(sys.argv[1]), int(sys.argv[2])
manifest = json.load(open("manifest.json"))
digest = manifest["image"]["manifestDigest"]
exes = manifest["executables"]
rng = random.Random(7)
def findings(count):
    for i in range(count):
        exe = rng.choice(exes)
        kind = i % 4
        path = exe["path"] if kind in (0, 2) else f"/tmp/run-{i % 97}/{exe['path'].rsplit('/', 1)[-1]}"
        sha = exe["sha256"] if kind in (0, 1) else f"{i:064x}"
        process = {"name": "p", "binary": {"path": path, "sha256": sha, "size": str(exe["size"])}, "args": [path, "--flag"], "pid": str(100 + i)}
        if i % 3 == 0:
            lib = rng.choice(exes)
            process["libraries"] = [{"path": lib["path"], "sha256": lib["sha256"]}]
        finding = {
            "name": f"organizations/1/sources/2/findings/f{i}",
            "category": "Added Binary Executed", "severity": "LOW", "state": "ACTIVE",
            "eventTime": "2026-11-28T10:00:00Z",
            "resourceName": "//container.googleapis.com/projects/p/zones/z/clusters/c",
            "processes": [process],
            "containers": [{"name": "app", "uri": "registry.example/app:1", "imageId": f"registry.example/app@{digest}"}],
            "kubernetes": {"pods": [{"ns": "shop", "name": f"web-{i % 50}", "containers": [{"name": "app"}]}]},
        }
        yield json.dumps(finding)
with open("findings.jsonl", "w") as out:
    for line in findings(n):
        out.write(line + "\n")
with open("big.jsonl", "w") as lines, open("big.json", "w") as array:
    array.write("[")
    for i, line in enumerate(findings(mem_n)):
        lines.write(line + "\n")
        array.write(("," if i else "") + "\n" + line)
    array.write("\n]\n")
PY
MB="$(awk -v b="$(stat -c %s findings.jsonl)" 'BEGIN { printf "%.1f", b / 1e6 }')"

best() {  # best wall-clock seconds of 3 runs of "$@"
    local best="" start end
    for _ in 1 2 3; do
        start="$EPOCHREALTIME"
        "$@" >/dev/null 2>&1 || true
        end="$EPOCHREALTIME"
        best="$(awk -v s="$start" -v e="$end" -v b="$best" 'BEGIN { t = e - s; if (b == "" || t < b) b = t; printf "%.3f", b }')"
    done
    echo "$best"
}
triage() { "$BIN" triage findings.jsonl --bundle bundle.json --key cosign.pub --format jsonl; }
jq_parse() { jq -c . findings.jsonl; }
py_parse() { python3 -c 'import json, sys; [json.loads(line) for line in open("findings.jsonl")]'; }

triage >out.jsonl || true
judged="$(wc -l <out.jsonl)"
verdicts="$(python3 -c 'import collections, json, sys
c = collections.Counter(b["verdict"] for l in open("out.jsonl") for b in json.loads(l)["binaries"])
print(", ".join(f"{k} {v}" for k, v in sorted(c.items())))')"
t_triage="$(best triage)"
t_jq="$(best jq_parse)"
t_py="$(best py_parse)"
rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }

echo "== exelock triage: $N findings ($MB MB JSONL) about one attested image, $(nproc) cores =="
printf '%-40s %9s %14s\n' "contender" "seconds" "findings/s"
printf '%-40s %9s %14s\n' "exelock triage --format jsonl" "$t_triage" "$(rate "$t_triage")"
printf '%-40s %9s %14s\n' "jq -c . (parse + print, baseline)" "$t_jq" "$(rate "$t_jq")"
printf '%-40s %9s %14s\n' "python3 json.loads per line (baseline)" "$t_py" "$(rate "$t_py")"
echo "findings judged: $judged; verdicts: $verdicts"
awk -v r="$(rate "$t_triage")" -v t="$TARGET" 'BEGIN { printf "target: >= %d findings/s: %s\n", t, (r >= t ? "PASS" : "MISS") }'

peak_mib() {  # peak RSS of "$@" in MiB
    /usr/bin/time -f '%M' -o rss.txt "$@" >/dev/null 2>&1 || true
    tail -n 1 rss.txt | awk '{ printf "%.1f", $1 / 1024 }'
}
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.0f", b / 1e6 }'; }
rss_lines="$(peak_mib "$BIN" triage big.jsonl --bundle bundle.json --key cosign.pub --format jsonl)"
rss_array="$(peak_mib "$BIN" triage big.json --bundle bundle.json --key cosign.pub --format json)"
rss_jq="$(peak_mib jq -c '.[]' big.json)"
echo
echo "== peak memory: $MEM_N findings =="
printf '%-52s %9s %12s\n' "contender" "input MB" "peak MiB"
printf '%-52s %9s %12s\n' "exelock triage, JSON lines in, jsonl out" "$(size_mb big.jsonl)" "$rss_lines"
printf '%-52s %9s %12s\n' "exelock triage, one JSON array in, json out" "$(size_mb big.json)" "$rss_array"
printf '%-52s %9s %12s\n' "jq -c '.[]' over the array (baseline)" "$(size_mb big.json)" "$rss_jq"
awk -v a="$rss_lines" -v b="$rss_array" -v t="$RSS_TARGET_MIB" 'BEGIN { m = (a > b ? a : b); printf "target: < %d MiB: %s\n", t, (m < t ? "PASS" : "MISS") }'
