#!/usr/bin/env bash
# Benchmark `exelock scan` on a large, realistic multi-layer OCI image.
#
# What it measures, and why:
#   * The floor for any scanner of gzip layers is decompressing them. The baseline is therefore
#     plain `gzip -dc` over every layer blob, one after the other, into /dev/null: single-threaded
#     inflate plus gzip's CRC-32 and nothing else.
#   * exelock does more per byte (inflate, SHA-256 of the compressed blob against its digest,
#     SHA-256 of the tar stream against the config's diff_id, tar parsing, SHA-256 of every
#     executable) but decodes layers in parallel (--threads, default one per core). The target is
#     exelock wall-clock <= 0.40 x the gzip baseline with default threads.
#   * exelock streams layers and keeps only executables' records, so its peak RSS should not grow
#     with image size. The target is < 64 MiB peak RSS.
#   * A --threads 1 run shows the single-core cost per byte, comparable to gzip's one core.
# All timings are wall-clock, best of $RUNS (default 3), with the blobs already in the page cache
# (a warm-up read precedes the runs), so they measure CPU work rather than the disk. Each run
# also records its own CPU use (cpu%: ~100% for one busy core, ~200% for two) and how much CPU
# other processes took meanwhile ("others"): on a shared 2-core machine a neighbour's compile
# easily doubles exelock's multi-threaded time, and the script warns instead of hiding that.
#
# A second image is the cached Debian bookworm root of the tests (scripts/test.sh builds it with
# debootstrap) as one layer: a real root with its dpkg database, so the scan also reads the
# package database and computes the packages' MD5s. Its table shows exelock, gzip -dc and their
# ratio side by side, and, given a baseline binary (e.g. a build of the commit before a change),
# the baseline on the same image in the same run.
#
# Usage: scripts/bench-scan.sh [BASELINE_BINARY]
# Environment:
#   CARGO_TARGET_DIR  honoured by the build; the binary is ${CARGO_TARGET_DIR:-target}/release/exelock
#   EXELOCK_BIN       measure this binary instead of building one
#   EXELOCK_TEST_DEBIAN_ROOT_TAR  the Debian root tar (default: the test cache's,
#                     ${EXELOCK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/exelock-tests}/debian-bookworm-minbase.tar);
#                     the Debian table is left out when it does not exist
#   BENCH_DIR         where the image is built and cached (default /tmp/exelock-bench)
#   RUNS              timed repetitions for best-of (default 3)
#   BENCH_ONLY        "debian": only the Debian root table (quick, for package-database work)
#
# Exit status: 0 when everything ran (PASS or MISS alike); non-zero only when a step failed.

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
BENCH_DIR="${BENCH_DIR:-/tmp/exelock-bench}"
IMAGE="$BENCH_DIR/image"
RUNS="${RUNS:-3}"
HELPER="$SCRIPT_DIR/bench_image.py"

# Targets (see the header).
TARGET_RATIO=0.40
TARGET_RSS_MIB=64

WORK="$(mktemp -d "${TMPDIR:-/tmp}/exelock-bench-run.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Floating-point helper; bash only does integers.
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

# Seconds since the epoch with microseconds, from bash's own clock (no fork).
now() { echo "$EPOCHREALTIME"; }

section() { printf '\n== %s ==\n' "$*"; }

# ---------------------------------------------------------------------------------------------
# 1. Build exelock (release). Relative CARGO_TARGET_DIRs are relative to the repository root,
#    where cargo runs.
section "build"
cd "$REPO_ROOT"
if [[ -n "${EXELOCK_BIN:-}" ]]; then
    BIN="$EXELOCK_BIN"
else
    cargo build --release --quiet
    BIN="${CARGO_TARGET_DIR:-target}/release/exelock"
fi
[[ "$BIN" = /* ]] || BIN="$REPO_ROOT/$BIN"
BASELINE_BIN="${1:-}"
if [[ -n "$BASELINE_BIN" ]]; then
    [[ -x "$BASELINE_BIN" ]] || { echo "error: baseline $BASELINE_BIN is not executable" >&2; exit 1; }
    echo "baseline: $BASELINE_BIN"
fi
[[ -x "$BIN" ]] || { echo "error: $BIN not found after the build" >&2; exit 1; }
echo "binary: $BIN"
# The tree may have local changes; record what was measured.
echo "source: $(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"

# ---------------------------------------------------------------------------------------------
# 2. Build or reuse the image. bench_image.py streams real /usr files through tar | gzip -6 into
#    5 layers (4 content layers and a small top layer with whiteouts) and caches the result
#    under $BENCH_DIR, keyed by a recipe version.
section "image"
mkdir -p "$BENCH_DIR"
image_start="$(now)"
python3 "$HELPER" build "$IMAGE"
image_seconds="$(calc "$(now) - $image_start" 1)"
facts="$(python3 "$HELPER" facts "$IMAGE")"
eval "$(grep -v '^#' <<<"$facts")"   # IMG_* variables
echo "image:            oci:$IMAGE:latest"
echo "image step:       ${image_seconds} s this run (full build took ${IMG_BUILD_SECONDS} s)"
echo "layers:           $IMG_LAYERS (application/vnd.oci.image.layer.v1.tar+gzip, gzip -6)"
echo "files:            $IMG_FILES regular files (+ $IMG_SYMLINKS symlinks, $IMG_HARDLINKS hardlinks, $IMG_WHITEOUTS whiteouts)"
UNCOMP_MB="$(calc "$IMG_UNCOMPRESSED_BYTES / 1e6" 1)"
COMP_MB="$(calc "$IMG_COMPRESSED_BYTES / 1e6" 1)"
echo "uncompressed:     $UNCOMP_MB MB (sum of layer tar sizes; MB = 10^6 bytes)"
echo "compressed:       $COMP_MB MB (sum of layer blob sizes)"
grep '^#' <<<"$facts" | sed 's/^# /  /'

mapfile -t BLOBS < <(python3 "$HELPER" layers "$IMAGE")

# Timings on a shared machine are only as good as its idleness: a busy core halves what
# exelock's parallel layer decoding can show. Sample how busy the CPUs are (other processes;
# this script is idle meanwhile) over one second from /proc/stat, and say so rather than
# silently report noise.
cpu_busy_percent() {
    local _ user nice system idle iowait irq softirq steal total1 idle1 total2 idle2
    read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
    total1=$((user + nice + system + idle + iowait + irq + softirq + steal)) idle1=$((idle + iowait))
    sleep 1
    read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
    total2=$((user + nice + system + idle + iowait + irq + softirq + steal)) idle2=$((idle + iowait))
    echo $((100 - 100 * (idle2 - idle1) / (total2 - total1)))
}
busy="$(cpu_busy_percent)"
echo "CPU busy before timing: ${busy}% of $(nproc) cores (other processes)"
if ((busy > 10)); then
    echo "WARNING: the machine is busy; timings (especially the multi-threaded ones) will suffer"
fi
# Warm the page cache so neither contender pays for disk reads.
cat "${BLOBS[@]}" >/dev/null

# ---------------------------------------------------------------------------------------------
# The measuring harness, shared by gzip and exelock.
#
# measure CMD... runs CMD once and sets
#   LAST_SECONDS   wall clock (bash's $EPOCHREALTIME around the run)
#   LAST_RSS_KIB   peak resident set size of the command (its largest process)
#   LAST_CPU_PCT   its user+system CPU time over wall time (100% = one core busy throughout;
#                  this shows how much parallelism exelock actually got)
#   LAST_OTHERS    CPU used by *other* processes during the run, as a % of all cores: all-core
#                  busy time from /proc/stat minus the command's own. On a shared machine this
#                  says whether a slow run was exelock's fault or a neighbour's.
# It prefers /usr/bin/time -v; without it, a Python wrapper reads the waited-for child's rusage
# (ru_maxrss is KiB on Linux; it can include the forked Python before exec, ~13 MiB, so the
# fallback over-states small peaks, which errs on the safe side for a ceiling). stderr is kept in $WORK/stderr; a failing command aborts.
CORES="$(nproc)"
busy_jiffies() {  # busy CPU time of all cores so far, in USER_HZ (1/100 s) ticks
    local _ user nice system idle iowait irq softirq steal
    read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}
measure() {
    local start jiffies status=0 cpu_seconds
    start="$(now)"
    jiffies="$(busy_jiffies)"
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -v -o "$WORK/time" "$@" 2>"$WORK/stderr" || status=$?
        LAST_SECONDS="$(calc "$(now) - $start")"
        jiffies=$(($(busy_jiffies) - jiffies))
        LAST_RSS_KIB="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time")"
        cpu_seconds="$(awk -F': ' '/User time|System time/ { sum += $2 } END { print sum }' "$WORK/time")"
    else
        read -r LAST_RSS_KIB cpu_seconds status < <(python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "wb") as err:
    rc = subprocess.run(sys.argv[2:], stderr=err).returncode
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, rc)' "$WORK/stderr" "$@")
        LAST_SECONDS="$(calc "$(now) - $start")"
        jiffies=$(($(busy_jiffies) - jiffies))
    fi
    if [[ "$status" != 0 ]]; then
        echo "error: '$*' exited with status $status:" >&2
        cat "$WORK/stderr" >&2
        exit 1
    fi
    if [[ -s "$WORK/stderr" ]]; then
        echo "  (stderr: $(wc -l <"$WORK/stderr") lines; first: $(head -1 "$WORK/stderr"))"
    fi
    LAST_CPU_PCT="$(calc "100 * $cpu_seconds / $LAST_SECONDS" 0)"
    LAST_OTHERS="$(calc "100 * ($jiffies / 100 - $cpu_seconds) / ($LAST_SECONDS * $CORES)" 0)"
    # Tick rounding can make it slightly negative on an idle machine.
    if ((LAST_OTHERS < 0)); then LAST_OTHERS=0; fi
}

# best_of NAME RUNS CMD...: runs CMD RUNS times and sets BEST_SECONDS, BEST_CPU, BEST_OTHERS (of
# the fastest run) and MAX_RSS_KIB (the largest peak RSS of all runs: the target is a ceiling).
best_of() {
    local name="$1" runs="$2" run
    shift 2
    BEST_SECONDS="" MAX_RSS_KIB=0
    for ((run = 1; run <= runs; run++)); do
        measure "$@"
        printf '%s run %d: %6s s  cpu %4s%%  peak RSS %5s MiB  (others used %s%% of the machine)\n' \
            "$name" "$run" "$LAST_SECONDS" "$LAST_CPU_PCT" "$(calc "$LAST_RSS_KIB / 1024" 1)" "$LAST_OTHERS"
        if [[ -z "$BEST_SECONDS" ]] || (($(awk "BEGIN { print ($LAST_SECONDS < $BEST_SECONDS) }"))); then
            BEST_SECONDS="$LAST_SECONDS" BEST_CPU="$LAST_CPU_PCT" BEST_OTHERS="$LAST_OTHERS"
        fi
        if ((LAST_RSS_KIB > MAX_RSS_KIB)); then MAX_RSS_KIB="$LAST_RSS_KIB"; fi
    done
}

MANIFEST="$WORK/manifest.json"
row() { printf '%-34s %8s %7s %7s %7s %10s %7s\n' "$@"; }
if [[ "${BENCH_ONLY:-}" != debian ]]; then
# ---------------------------------------------------------------------------------------------
# 3. Baseline: gzip -dc over all layers, sequentially, output discarded, best of $RUNS.
section "gzip -dc baseline (best of $RUNS)"
best_of gzip "$RUNS" bash -c 'for blob; do gzip -dc "$blob" >/dev/null || exit; done' gzip-loop "${BLOBS[@]}"
gzip_best="$BEST_SECONDS" gzip_cpu="$BEST_CPU" gzip_others="$BEST_OTHERS"

# ---------------------------------------------------------------------------------------------
# 4. exelock: default threads (one per core) best of $RUNS, then one --threads 1 run. JSON goes
#    to a temp file so the executables can be counted.
SCAN=("$BIN" scan "oci:$IMAGE" -q --format json -o "$MANIFEST")

section "exelock scan, default threads (best of $RUNS)"
best_of exelock "$RUNS" "${SCAN[@]}"
exe_best="$BEST_SECONDS" exe_cpu="$BEST_CPU" exe_others="$BEST_OTHERS" exe_rss_kib="$MAX_RSS_KIB"
read -r n_exec n_links n_hidden < <(python3 "$HELPER" count "$MANIFEST")

if [[ -n "$BASELINE_BIN" ]]; then
    section "baseline scan, default threads (best of $RUNS)"
    best_of baseline "$RUNS" "$BASELINE_BIN" scan "oci:$IMAGE" -q --format json -o "$MANIFEST"
    base_best="$BEST_SECONDS" base_cpu="$BEST_CPU" base_others="$BEST_OTHERS" base_rss_kib="$MAX_RSS_KIB"
fi

section "exelock scan --threads 1 (one run)"
best_of "exelock --threads 1" 1 "${SCAN[@]}" --threads 1
exe1_seconds="$BEST_SECONDS" exe1_cpu="$BEST_CPU" exe1_others="$BEST_OTHERS" exe1_rss_kib="$MAX_RSS_KIB"
read -r n_exec1 _ _ < <(python3 "$HELPER" count "$MANIFEST")

# ---------------------------------------------------------------------------------------------
# 4b. The same image from a registry: a real CNCF distribution registry (Debian's
#     docker-registry) on a free loopback port with temporary storage; the image is pushed with
#     skopeo, then scanned over HTTP (blobs stream from the socket into the same pipeline).
section "exelock scan from a loopback registry (best of $RUNS)"
REG_DIR="$WORK/registry"
mkdir -p "$REG_DIR/storage"
REG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$REG_DIR/config.yml" <<YAML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $REG_DIR/storage
http:
  addr: 127.0.0.1:$REG_PORT
YAML
docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
REG_PID=$!
trap 'kill "$REG_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do
    curl -fs "http://127.0.0.1:$REG_PORT/v2/" >/dev/null 2>&1 && break
    sleep 0.1
done
skopeo --insecure-policy copy -q --preserve-digests --dest-tls-verify=false \
    "oci:$IMAGE:latest" "docker://127.0.0.1:$REG_PORT/bench/image:latest"
best_of "exelock (registry)" "$RUNS" "$BIN" scan "127.0.0.1:$REG_PORT/bench/image:latest" -q --format json -o "$MANIFEST"
reg_best="$BEST_SECONDS" reg_cpu="$BEST_CPU" reg_others="$BEST_OTHERS" reg_rss_kib="$MAX_RSS_KIB"
read -r n_exec_reg _ _ < <(python3 "$HELPER" count "$MANIFEST")
kill "$REG_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# 5. The table. Ratios are exelock / gzip wall-clock (lower is better); MB/s is uncompressed
#    layer bytes (10^6) per wall-clock second.
ratio="$(calc "$exe_best / $gzip_best")"
ratio1="$(calc "$exe1_seconds / $gzip_best")"
rss_mib="$(calc "$exe_rss_kib / 1024" 1)"
ratio_verdict="$(awk "BEGIN { print ($ratio <= $TARGET_RATIO) ? \"PASS\" : \"MISS\" }")"
rss_verdict="$(awk "BEGIN { print ($rss_mib < $TARGET_RSS_MIB) ? \"PASS\" : \"MISS\" }")"
threads_default="$(nproc)"

section "results ($UNCOMP_MB MB uncompressed in $IMG_LAYERS layers, $IMG_FILES files, $(nproc) cores)"
row "contender" "seconds" "ratio" "MB/s" "cpu" "peak RSS" "others"
row "gzip -dc (sequential)" "$gzip_best" "1.000" "$(calc "$UNCOMP_MB / $gzip_best" 1)" \
    "${gzip_cpu}%" "-" "${gzip_others}%"
row "exelock scan (default: $threads_default threads)" "$exe_best" "$ratio" "$(calc "$UNCOMP_MB / $exe_best" 1)" \
    "${exe_cpu}%" "$rss_mib MiB" "${exe_others}%"
if [[ -n "$BASELINE_BIN" ]]; then
    row "baseline scan (default threads)" "$base_best" "$(calc "$base_best / $gzip_best")" "$(calc "$UNCOMP_MB / $base_best" 1)" \
        "${base_cpu}%" "$(calc "$base_rss_kib / 1024" 1) MiB" "${base_others}%"
fi
row "exelock scan --threads 1" "$exe1_seconds" "$ratio1" "$(calc "$UNCOMP_MB / $exe1_seconds" 1)" \
    "${exe1_cpu}%" "$(calc "$exe1_rss_kib / 1024" 1) MiB" "${exe1_others}%"
row "exelock scan, loopback registry" "$reg_best" "$(calc "$reg_best / $gzip_best")" "$(calc "$UNCOMP_MB / $reg_best" 1)" \
    "${reg_cpu}%" "$(calc "$reg_rss_kib / 1024" 1) MiB" "${reg_others}%"
echo "(ratio = seconds / gzip seconds; MB/s = uncompressed MB / seconds; cpu = the command's own"
echo " CPU time / wall time; others = CPU other processes used meanwhile, % of all cores)"
echo
echo "executables reported: $n_exec (links: $n_links, hidden: $n_hidden); --threads 1 run: $n_exec1; registry: $n_exec_reg"
echo "registry vs layout: $(calc "$reg_best / $exe_best" 2)x the layout scan's time"
echo "builder's own count:  $IMG_EXPECTED_EXECUTABLES executables, $IMG_EXPECTED_HIDDEN hidden (cross-check)"
if [[ "$n_exec" != "$IMG_EXPECTED_EXECUTABLES" || "$n_exec1" != "$n_exec" || "$n_exec_reg" != "$n_exec" ]]; then
    echo "NOTE: executable counts disagree"
fi
echo
printf 'target: %-40s %s (ratio %s)\n' "exelock (default threads) <= ${TARGET_RATIO} x gzip -dc:" "$ratio_verdict" "$ratio"
printf 'target: %-40s %s (%s MiB)\n' "exelock peak RSS < ${TARGET_RSS_MIB} MiB:" "$rss_verdict" "$rss_mib"
for others in "$gzip_others" "$exe_others" "$exe1_others" "$reg_others"; do
    if ((others > 10)); then
        echo "WARNING: other processes used >10% of the machine during a reported run; re-run when idle"
        break
    fi
done

fi  # BENCH_ONLY
# ---------------------------------------------------------------------------------------------
# 6. The Debian root with its dpkg database: gzip -dc, exelock and the baseline, best of $RUNS.
DEBIAN_TAR="${EXELOCK_TEST_DEBIAN_ROOT_TAR:-${EXELOCK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/exelock-tests}/debian-bookworm-minbase.tar}"
if [[ -f "$DEBIAN_TAR" ]]; then
    section "Debian bookworm minbase root with its dpkg database (best of $RUNS)"
    DEBIAN_IMAGE="$BENCH_DIR/debian"
    python3 "$HELPER" from-tar "$DEBIAN_TAR" "$DEBIAN_IMAGE"
    mapfile -t DEBIAN_BLOBS < <(python3 "$HELPER" layers "$DEBIAN_IMAGE")
    cat "${DEBIAN_BLOBS[@]}" >/dev/null
    DEBIAN_MB="$(calc "$(stat -c %s "$DEBIAN_TAR") / 1e6" 1)"
    echo "image: oci:$DEBIAN_IMAGE:latest ($DEBIAN_MB MB uncompressed, one layer, gzip -6)"
    best_of gzip "$RUNS" bash -c 'for blob; do gzip -dc "$blob" >/dev/null || exit; done' gzip-loop "${DEBIAN_BLOBS[@]}"
    deb_gzip="$BEST_SECONDS" deb_gzip_cpu="$BEST_CPU" deb_gzip_others="$BEST_OTHERS"
    best_of exelock "$RUNS" "$BIN" scan "oci:$DEBIAN_IMAGE" -q --format json -o "$MANIFEST"
    deb_exe="$BEST_SECONDS" deb_exe_cpu="$BEST_CPU" deb_exe_others="$BEST_OTHERS" deb_exe_rss="$MAX_RSS_KIB"
    deb_packages="$(python3 "$HELPER" packages "$MANIFEST")"
    if [[ -n "$BASELINE_BIN" ]]; then
        best_of baseline "$RUNS" "$BASELINE_BIN" scan "oci:$DEBIAN_IMAGE" -q --format json -o "$MANIFEST"
        deb_base="$BEST_SECONDS" deb_base_cpu="$BEST_CPU" deb_base_others="$BEST_OTHERS" deb_base_rss="$MAX_RSS_KIB"
    fi

    section "results, Debian root ($DEBIAN_MB MB uncompressed, $(nproc) cores)"
    row "contender" "seconds" "ratio" "MB/s" "cpu" "peak RSS" "others"
    row "gzip -dc" "$deb_gzip" "1.000" "$(calc "$DEBIAN_MB / $deb_gzip" 1)" "${deb_gzip_cpu}%" "-" "${deb_gzip_others}%"
    row "exelock scan" "$deb_exe" "$(calc "$deb_exe / $deb_gzip")" "$(calc "$DEBIAN_MB / $deb_exe" 1)" \
        "${deb_exe_cpu}%" "$(calc "$deb_exe_rss / 1024" 1) MiB" "${deb_exe_others}%"
    if [[ -n "$BASELINE_BIN" ]]; then
        row "baseline scan" "$deb_base" "$(calc "$deb_base / $deb_gzip")" "$(calc "$DEBIAN_MB / $deb_base" 1)" \
            "${deb_base_cpu}%" "$(calc "$deb_base_rss / 1024" 1) MiB" "${deb_base_others}%"
        echo "exelock / baseline: $(calc "$deb_exe / $deb_base" 2)x the time"
    fi
    echo "exelock: $deb_packages"
    for others in "$deb_gzip_others" "$deb_exe_others" "${deb_base_others:-0}"; do
        if ((others > 10)); then
            echo "WARNING: other processes used >10% of the machine during a reported run; re-run when idle"
            break
        fi
    done
else
    echo
    echo "(no Debian root at $DEBIAN_TAR: run scripts/test.sh once to build it)"
fi
exit 0
