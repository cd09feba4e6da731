#!/usr/bin/env bash
# Packs a built exelock binary as a release archive, the layout the Action's `version` input
# downloads (docs/release.md):
#
#   exelock-VERSION-TARGET.tar.gz          exelock-VERSION-TARGET/{exelock,LICENSE,README.md}
#   exelock-VERSION-TARGET.tar.gz.sha256   "<sha256>  exelock-VERSION-TARGET.tar.gz" (sha256sum -c)
#
# Usage: scripts/release-archive.sh VERSION TARGET BINARY OUTDIR
# The archive is reproducible: sorted names, owner 0, the commit's time (SOURCE_DATE_EPOCH when
# set), gzip without a name or time; packing the same binary twice gives the same sha256.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 4 ]; then
  echo "usage: $0 VERSION TARGET BINARY OUTDIR" >&2
  exit 2
fi
version=$1 target=$2 binary=$3 outdir=$4
case "$version" in
  '' | *[!0-9A-Za-z.-]*) echo "error: version must look like 0.1.0 (got '$version')" >&2; exit 2 ;;
esac
[ -x "$binary" ] || { echo "error: $binary is not an executable" >&2; exit 2; }

epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
name="exelock-$version-$target"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/$name" "$outdir"
install -m 0755 "$binary" "$staging/$name/exelock"
for doc in LICENSE README.md; do
  [ -f "$doc" ] && install -m 0644 "$doc" "$staging/$name/$doc"
done
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
  -C "$staging" -cf - "$name" | gzip -9n >"$outdir/$name.tar.gz"
(cd "$outdir" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
cat "$outdir/$name.tar.gz.sha256"
