#!/usr/bin/env bash
# The Action's install step for a release: downloads the archive for this runner, refuses it
# unless its sha256 is the one pinned in the workflow, and unpacks only the binary into
# $RUNNER_TEMP/exelock/bin. Nothing downloaded runs before the check.
#
# Environment: EXELOCK_VERSION (e.g. 0.1.0), EXELOCK_CHECKSUM (the archive's sha256, hex, with or
# without "sha256:"), RUNNER_TEMP, RUNNER_OS and RUNNER_ARCH (set by the runner);
# EXELOCK_RELEASE_BASE_URL (optional, https only) for a mirror of the release downloads.
# The archive layout and names are docs/release.md's. Exit 2 on any refusal, with a ::error::.
set -euo pipefail

fail() {
  echo "::error title=exelock install::$*" >&2
  exit 2
}

version=${EXELOCK_VERSION:-}
case "$version" in
  '' | *[!0-9A-Za-z.-]*) fail "version must look like 0.1.0 (got '$version')" ;;
esac

checksum=$(printf '%s' "${EXELOCK_CHECKSUM:-}" | tr 'A-F' 'a-f')
checksum=${checksum#sha256:}
if [ -z "$checksum" ]; then
  fail "version $version needs its checksum input: the sha256 published with the release (exelock-$version-<target>.tar.gz.sha256); a downloaded archive is never run unchecked"
fi
if ! [[ $checksum =~ ^[0-9a-f]{64}$ ]]; then
  fail "checksum must be 64 hex digits, the archive's sha256 (got '${EXELOCK_CHECKSUM:-}')"
fi

case "${RUNNER_OS:-Linux}/${RUNNER_ARCH:-X64}" in
  Linux/X64) target=x86_64-unknown-linux-gnu ;;
  Linux/ARM64) target=aarch64-unknown-linux-gnu ;;
  *) fail "no exelock release for ${RUNNER_OS:-}/${RUNNER_ARCH:-} runners; leave version empty to build from source" ;;
esac

base=${EXELOCK_RELEASE_BASE_URL:-https://github.com/exelock/exelock/releases/download}
base=${base%/}
name="exelock-$version-$target"
archive="$name.tar.gz"
url="$base/v$version/$archive"

download=$(mktemp -d "${RUNNER_TEMP:?}/exelock-download.XXXXXX")
trap 'rm -rf "$download"' EXIT
# https only, also after redirects (GitHub sends release downloads to its object storage).
curl --proto '=https' --proto-redir '=https' --tlsv1.2 -fsSL --retry 3 \
  -o "$download/$archive" "$url" || fail "cannot download $url"

actual=$(sha256sum "$download/$archive" | cut -d' ' -f1)
if [ "$actual" != "$checksum" ]; then
  fail "$archive does not match the pinned checksum (got sha256:$actual, expected sha256:$checksum)"
fi

# Only the binary is taken from the archive, by its exact path.
tar -xzf "$download/$archive" -C "$download" "$name/exelock" ||
  fail "$archive has no $name/exelock (see docs/release.md for the layout)"
mkdir -p "$RUNNER_TEMP/exelock/bin"
install -m 0755 "$download/$name/exelock" "$RUNNER_TEMP/exelock/bin/exelock"
echo "installed $("$RUNNER_TEMP/exelock/bin/exelock" --version) from $archive (sha256:$actual)"
