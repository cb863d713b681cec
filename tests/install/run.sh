#!/usr/bin/env bash
# Installs a configured and built tether tree into a fresh prefix, then configures, builds
# and runs the consumer project beside this script against that prefix alone.
#
#   tests/install/run.sh BUILD_DIR SOURCE_DIR CXX_COMPILER [GENERATOR] [BUILD_TYPE] [SANITIZE]
#
# Registered with ctest as install_consumer (tests/CMakeLists.txt). Work files go to
# BUILD_DIR/install_consumer/ and are replaced on every run.
set -euo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR CXX_COMPILER [GENERATOR] [BUILD_TYPE] [SANITIZE]" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
cxx=$3
generator=${4:-}
build_type=${5:-Release}
sanitize=${6:-}

work=$build_dir/install_consumer
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

echo "== installing $build_dir into $prefix"
cmake --install "$build_dir" --prefix "$prefix" > "$work/install.log"

# The installed package must stand on its own: no paths into the source or build tree, and
# none of the backend's private headers.
config=$(find "$prefix" -name tetherConfig.cmake -print -quit)
if [[ -z $config ]]; then
  echo "install_consumer: no tetherConfig.cmake under $prefix" >&2
  exit 1
fi
if grep -rlF -e "$source_dir" -e "$build_dir" "$(dirname "$config")"; then
  echo "install_consumer: the installed CMake package refers to the source or build tree" >&2
  exit 1
fi
if [[ -e $prefix/include/tether/backend ]]; then
  echo "install_consumer: backend headers are private but were installed" >&2
  exit 1
fi

configure=(cmake -S "$source_dir/tests/install" -B "$work/build"
  -DCMAKE_PREFIX_PATH="$prefix"
  -DCMAKE_CXX_COMPILER="$cxx"
  -DCMAKE_BUILD_TYPE="$build_type"
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if [[ -n $generator ]]; then
  configure+=(-G "$generator")
fi
if [[ -n $sanitize ]]; then
  # A library built with sanitizers needs their runtimes at link time.
  configure+=(-DCMAKE_CXX_FLAGS="-fsanitize=$sanitize" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize")
fi

echo "== configuring the consumer"
"${configure[@]}" > "$work/configure.log" || { cat "$work/configure.log" >&2; exit 1; }
echo "== building the consumer"
cmake --build "$work/build" > "$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
echo "== running the consumer"
"$work/build/consumer"
"$work/build/optim_only"
