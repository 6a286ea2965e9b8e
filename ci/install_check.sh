#!/usr/bin/env bash
# ci/install_check.sh BUILD_DIR WORK_DIR: installs a built tree into a
# scratch prefix, then builds and runs a consumer with find_package(coio)
# (coio::coio) and another with pkg-config, as a user would.
set -euo pipefail
build=$1
work=$2
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$root/tests/install" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
out=$("$work/consumer/consumer")
[ "$out" = "consumer: Hello from coio" ] || { echo "find_package consumer printed: $out"; exit 1; }
# pkg-config, static link
libdir=$(ls -d "$work/prefix"/lib* | head -n 1)
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -DCOIO_STATIC "$root/tests/install/consumer.c" -o "$work/pc-consumer" \
  $(pkg-config --cflags coio) "$libdir/libcoio.a" $(pkg-config --libs --static coio | sed 's/-lcoio//')
out=$("$work/pc-consumer")
[ "$out" = "consumer: Hello from coio" ] || { echo "pkg-config consumer printed: $out"; exit 1; }
echo "install check: find_package and pkg-config consumers OK"
