#!/usr/bin/env bash
# The installed package, used as a project outside the tree would: installs
# BUILD_DIR into a fresh prefix, builds docs/runtime-api.md's example (its
# ```cpp and ```cmake blocks, verbatim) with find_package(fastbert) and again
# with pkg-config, and checks that both answer a question from a .fbm exactly
# as the in-tree engine does, that neither links LibTorch, and that neither
# carries fastbert's start-up hook (.preinit_array).
# Usage: check_installed_package.sh SOURCE_DIR BUILD_DIR ANSWER_IN_TREE
set -euo pipefail
source_dir=$1 build_dir=$2 answer_in_tree=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/fastbert-install-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build_dir" --prefix "$prefix" >"$work/install.log"
for f in lib/cmake/fastbert/fastbertConfig.cmake lib/pkgconfig/fastbert.pc include/fastbert/runtime/engine.h \
         lib/libfastbert_runtime.a; do
  [[ -f $prefix/$f ]] || { echo "FAIL: the install has no $f" >&2; exit 1; }
done
if find "$prefix" -name '*torch*' | grep -q .; then
  echo "FAIL: the install holds LibTorch files" >&2
  exit 1
fi

# The example exactly as the documentation shows it.
consumer=$work/consumer
mkdir -p "$consumer"
extract() {  # the first fenced block of language $1
  awk -v lang="$1" '$0 == "```" lang {on = 1; next} on && $0 == "```" {exit} on {print}' \
    "$source_dir/docs/runtime-api.md"
}
extract cpp >"$consumer/answer.cpp"
extract cmake >"$consumer/CMakeLists.txt"
[[ -s $consumer/answer.cpp && -s $consumer/CMakeLists.txt ]] || { echo "FAIL: no example in docs/runtime-api.md" >&2; exit 1; }

question="Who won the game?"
context="The Denver Broncos won the game in Santa Clara."
"$answer_in_tree" "$work" "$work/model.fbm" "$question" "$context" >"$work/want.txt"

# No compiler cache and no variables of the fastbert build: a clean consumer.
env -u CMAKE_PREFIX_PATH cmake -S "$consumer" -B "$consumer/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$consumer/build" -j2 >"$work/build.log" || { cat "$work/build.log" >&2; exit 1; }

c++ -std=c++17 -O1 "$consumer/answer.cpp" -o "$consumer/answer_pkgconfig" \
  $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs fastbert)

for bin in "$consumer/build/answer" "$consumer/answer_pkgconfig"; do
  "$bin" "$work/model.fbm" "$question" "$context" >"$work/got.txt"
  if ! diff -u "$work/want.txt" "$work/got.txt"; then
    echo "FAIL: $bin answers differently from the in-tree engine" >&2
    exit 1
  fi
  if ldd "$bin" | grep -E 'libtorch|libc10|libcaffe2'; then
    echo "FAIL: $bin links LibTorch" >&2
    exit 1
  fi
  # fastbert's executables re-execute themselves at pre-init to start libgomp
  # with their libgomp spin count; an embedding program must not inherit that.
  if objdump -h "$bin" | grep -q preinit_array; then
    echo "FAIL: $bin carries a .preinit_array from the installed libraries" >&2
    exit 1
  fi
done
echo "ok: the installed package answers $(cat "$work/got.txt") through find_package and pkg-config, without LibTorch"
