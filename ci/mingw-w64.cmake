# Toolchain file for cross-compiling coio to 64-bit Windows with mingw-w64.
# Test binaries run under Wine through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
if(DEFINED ENV{COIO_WIN_PREFIX})
  list(APPEND CMAKE_FIND_ROOT_PATH $ENV{COIO_WIN_PREFIX})
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR)
  # Debian's wine package puts `wine` on PATH; with only wine64 installed the
  # loader is /usr/lib/wine/wine64 and nothing is on PATH.
  find_program(COIO_WINE NAMES wine wine64 PATHS /usr/lib/wine /usr/lib64/wine /opt/wine-stable/bin)
  if(COIO_WINE)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${COIO_WINE})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR wine)
  endif()
endif()
# Self-contained executables: no libgcc/libstdc++/winpthread DLLs to copy
# next to the tests for Wine (../shared/PITFALLS.md section 6).
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
