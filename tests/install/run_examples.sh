#!/bin/sh
# Install the build into a temporary DESTDIR, then build the C and C++
# examples against the INSTALLED headers and library through pkg-config and
# run them, checking their output values.
# usage: run_examples.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --destdir "$tmp/root" >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log"
    exit 1
}
pc=$(find "$tmp/root" -name sslkit.pc | head -n 1)
lib=$(find "$tmp/root" -name 'libsslkit.so.1' | head -n 1)
[ -n "$pc" ] || { echo "sslkit.pc was not installed"; exit 1; }
[ -n "$lib" ] || { echo "libsslkit.so.1 was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export LD_LIBRARY_PATH="$(dirname "$lib")"
flags=$(pkg-config --cflags --libs sslkit)
echo "pkg-config: $flags"
case "$flags" in *"$tmp/root"*) ;; *) echo "pkg-config flags do not point into the install tree"; exit 1 ;; esac

fail=0
expect() { # file pattern
    if grep -qF -- "$2" "$1"; then echo "ok: $2"; else echo "MISSING: $2"; cat "$1"; fail=1; fi
}

${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "$src/examples/rankme_example.c" $flags -o "$tmp/ex_c"
ldd "$tmp/ex_c" | grep -q "$tmp/root" || { echo "example does not load the installed library"; ldd "$tmp/ex_c"; exit 1; }
"$tmp/ex_c" "$tmp/emb.npy" >"$tmp/c.txt"
expect "$tmp/c.txt" "rankme diag(3,1) = 1.7547652934"
expect "$tmp/c.txt" "rankme identity(4) = 4.000000618, singular values 1 1 1 1"
expect "$tmp/c.txt" "(2 x 2) = 1.7547652934"
expect "$tmp/c.txt" "one row -> SSLK_E_SHAPE"

# Training example: VICReg on synthetic patterns, kNN + probe > 90% (exit 0).
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "$src/examples/train_example.c" $flags -o "$tmp/train_example"
if "$tmp/train_example" >"$tmp/train.txt"; then
    expect "$tmp/train.txt" "epoch 6: loss"
    expect "$tmp/train.txt" "linear probe top-1"
else
    echo "train_example failed:"; cat "$tmp/train.txt"; fail=1
fi

# POLICE example: trains a constrained MLP on two rings (~15 CPU-s), exits 1
# unless the model is one region with a straight boundary inside the square.
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "$src/examples/police_rings.c" $flags -lm -o "$tmp/police_rings"
if "$tmp/police_rings" "$tmp/rings.png" >"$tmp/police.txt"; then
    expect "$tmp/police.txt" "SplineCam regions: 1 inside the square"
    expect "$tmp/police.txt" "decision boundary in the square: one straight segment"
    [ -s "$tmp/rings.png" ] || { echo "police_rings wrote no picture"; fail=1; }
else
    echo "police_rings failed:"; cat "$tmp/police.txt"; fail=1
fi

if command -v "${CXX:-c++}" >/dev/null 2>&1; then
    ${CXX:-c++} -std=c++11 -Wall -Wextra -Wpedantic -Werror "$src/examples/rankme_example.cpp" $flags -o "$tmp/ex_cpp"
    "$tmp/ex_cpp" >"$tmp/cpp.txt"
    expect "$tmp/cpp.txt" "rankme diag(2,1,1) eps=0 = 2.828427125"
    expect "$tmp/cpp.txt" "accuracy 0.5750 worst-2 0.3500 (classes 3 1) best-2 0.8000"
else
    echo "no C++ compiler: C++ example not built"
    fail=1
fi
exit $fail
