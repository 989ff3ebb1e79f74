#!/usr/bin/env bash
# Installs the Node.js port of `make bench` (package.json and
# package-lock.json beside this script) into DEST with npm ci. aws-lambda-ric
# builds its native client from source (autotools, a C++ compiler): autoconf,
# automake and libtool are installed with apt-get when missing. On failure
# DEST/install-failed.txt says why and the script exits 0: the table's Node.js
# row then says it was not measured, and why. On success DEST/installed.txt
# records the lock file that was installed.
set -uo pipefail
src=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: install.sh DEST}
rm -rf "$dest" && mkdir -p "$dest" || exit 1
SECONDS=0
fail() { echo "$*" >"$dest/install-failed.txt"; echo "bench: Node.js port not installed: $*" >&2; exit 0; }
for tool in node npm; do
	command -v "$tool" >/dev/null || fail "no $tool on PATH (install Node.js 20 and npm)"
done
missing=()
for pair in autoconf:autoconf automake:automake libtoolize:libtool; do
	command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
	echo "bench: installing ${missing[*]} with apt-get (aws-lambda-ric builds with them)" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$dest/apt-get.log" 2>&1 \
		|| fail "apt-get install ${missing[*]} failed (see $dest/apt-get.log)"
fi
cp "$src/package.json" "$src/package-lock.json" "$dest/" || exit 1
echo "bench: npm ci of the Node.js port into $dest (aws-lambda-ric builds from source: a few minutes)" >&2
npm ci --prefix "$dest" --no-audit --no-fund >"$dest/npm-ci.log" 2>&1 \
	|| fail "npm ci failed with status $? after ${SECONDS}s (see $dest/npm-ci.log)"
cp "$src/package-lock.json" "$dest/installed.txt"
echo "bench: Node.js port installed in ${SECONDS}s" >&2
