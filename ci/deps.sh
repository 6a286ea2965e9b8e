#!/usr/bin/env bash
# Installs everything coio's build needs on a fresh Debian 12 machine, and nothing twice.
#   ci/deps.sh linux     Debian packages for the native Linux builds
#   ci/deps.sh windows   + mingw-w64, Wine, and CMocka/OpenSSL cross-built for Windows
# The Windows libraries are built from Debian's source packages into a cache outside the
# checkout ($COIO_CACHE, default ~/.cache/coio) and reused when already there.
# Facts this relies on are in ../shared/PITFALLS.md section 6.
set -euo pipefail

want=${1:-all}
COIO_CACHE=${COIO_CACHE:-$HOME/.cache/coio}
WIN_PREFIX=$COIO_CACHE/win64
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

log() { printf '[deps] %s\n' "$*" >&2; }

apt_updated=0
apt_install() { # install only the packages that are missing
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated = 0 ]; then
    log "apt-get update"
    $SUDO apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

linux_deps() {
  apt_install build-essential cmake ninja-build pkg-config libcmocka-dev liburing-dev libssl-dev \
    clang libclang-rt-14-dev python3 openssl \
    libuv1-dev libboost-dev libevent-dev # the benchmarks' peers (tests/bench)
}

add_deb_src() {
  # Debian 12 ships deb822 sources and no deb-src entry; add one with the same URIs.
  local f=/etc/apt/sources.list.d/coio-deb-src.sources
  [ -f "$f" ] && return 0
  log "adding deb-src entries ($f)"
  $SUDO tee "$f" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  $SUDO apt-get update -qq >/dev/null
  apt_updated=1
}

build_cmocka_win() {
  [ -f "$WIN_PREFIX/lib/libcmocka-static.a" ] && return 0
  log "cross-building CMocka for mingw-w64 into $WIN_PREFIX"
  local src=$COIO_CACHE/src/cmocka
  rm -rf "$src" && mkdir -p "$src"
  (cd "$src" && apt-get source -qq cmocka >/dev/null 2>&1)
  local dir
  dir=$(find "$src" -maxdepth 1 -mindepth 1 -type d -name 'cmocka-*' | head -n 1)
  cmake -S "$dir" -B "$dir/build-win" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$(cd "$(dirname "$0")" && pwd)/mingw-w64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$WIN_PREFIX" \
    -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >/dev/null
  cmake --build "$dir/build-win" >/dev/null
  cmake --install "$dir/build-win" >/dev/null
  # The static library's name differs between CMocka versions; coio looks for cmocka-static.
  if [ ! -f "$WIN_PREFIX/lib/libcmocka-static.a" ] && [ -f "$WIN_PREFIX/lib/libcmocka.a" ]; then
    cp "$WIN_PREFIX/lib/libcmocka.a" "$WIN_PREFIX/lib/libcmocka-static.a"
  fi
  [ -f "$WIN_PREFIX/lib/libcmocka-static.a" ] || { log "CMocka cross-build produced no static library"; exit 1; }
}

build_openssl_win() {
  [ -f "$WIN_PREFIX/lib/libssl.a" ] && [ -f "$WIN_PREFIX/lib/libcrypto.a" ] && return 0
  log "cross-building OpenSSL for mingw-w64 into $WIN_PREFIX (about two minutes)"
  local src=$COIO_CACHE/src/openssl
  rm -rf "$src" && mkdir -p "$src"
  # Plain 'apt-get source openssl' picks the security suite, whose .dsc answers 404.
  (cd "$src" && apt-get source -qq openssl/bookworm >/dev/null 2>&1)
  local dir
  dir=$(find "$src" -maxdepth 1 -mindepth 1 -type d -name 'openssl-*' | head -n 1)
  (cd "$dir" && ./Configure mingw64 --cross-compile-prefix=x86_64-w64-mingw32- no-shared no-tests \
      --prefix="$WIN_PREFIX" --libdir=lib >/dev/null &&
    make -j"$(nproc)" >/dev/null 2>&1 && make install_sw >/dev/null)
  [ -f "$WIN_PREFIX/lib/libssl.a" ] || { log "OpenSSL cross-build failed"; exit 1; }
}

wine_prefix() {
  export WINEPREFIX=$COIO_CACHE/wineprefix WINEDEBUG=-all
  [ -f "$WINEPREFIX/system.reg" ] && return 0
  log "creating the Wine prefix in $WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1 || wine cmd /c exit >/dev/null 2>&1 || true
  wineserver -w 2>/dev/null || true
}

windows_deps() {
  apt_install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 wine dpkg-dev make perl
  add_deb_src
  mkdir -p "$COIO_CACHE"
  build_cmocka_win
  build_openssl_win
  wine_prefix
}

case "$want" in
  linux) linux_deps ;;
  windows) linux_deps; windows_deps ;;
  all) linux_deps; windows_deps ;;
  *) echo "usage: ci/deps.sh [linux|windows|all]" >&2; exit 2 ;;
esac
