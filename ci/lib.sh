# ci/lib.sh - shared by ci/test.sh and ci/examples.sh: where things go and
# how each configuration is configured. Sourced, not run.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COIO_CACHE=${COIO_CACHE:-$HOME/.cache/coio}
export COIO_CACHE
COIO_WIN_PREFIX=$COIO_CACHE/win64
export COIO_WIN_PREFIX
BUILD_ROOT=${COIO_BUILD_ROOT:-$root/build/ci}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
export WINEPREFIX=${WINEPREFIX:-$COIO_CACHE/wineprefix} WINEDEBUG=${WINEDEBUG:--all}

log() { printf '\n=== %s\n' "$*"; }

# configure NAME [cmake args...]: a fresh build tree under $BUILD_ROOT/NAME
configure() {
  local name=$1
  shift
  cmake -S "$root" -B "$BUILD_ROOT/$name" -G Ninja -DCOIO_WERROR=ON "$@" >"$BUILD_ROOT/$name.configure.log" 2>&1 ||
    { cat "$BUILD_ROOT/$name.configure.log"; return 1; }
}

build() { cmake --build "$BUILD_ROOT/$1" -j "$JOBS"; }

# The configurations, by name.
configure_linux_release() {
  CC=gcc CXX=g++ configure linux-gcc-release -DCMAKE_BUILD_TYPE=Release -DCOIO_WITH_IO_URING=ON
}
configure_linux_asan() {
  local san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  CC=clang CXX=clang++ configure linux-clang-asan-ubsan -DCMAKE_BUILD_TYPE=Debug -DCOIO_WITH_IO_URING=ON \
    -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
    -DCMAKE_SHARED_LINKER_FLAGS="$san"
}
configure_linux_tsan() {
  local san="-fsanitize=thread -fno-omit-frame-pointer"
  CC=clang CXX=clang++ configure linux-clang-tsan -DCMAKE_BUILD_TYPE=Debug -DCOIO_WITH_IO_URING=ON \
    -DCOIO_BUILD_EXAMPLES=OFF -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" \
    -DCMAKE_EXE_LINKER_FLAGS="$san" -DCMAKE_SHARED_LINKER_FLAGS="$san"
}
configure_windows() {
  configure windows-mingw-wine -DCMAKE_TOOLCHAIN_FILE="$root/ci/mingw-w64.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$COIO_WIN_PREFIX" \
    -DOPENSSL_ROOT_DIR="$COIO_WIN_PREFIX" -DCOIO_WITH_TLS=ON
}
