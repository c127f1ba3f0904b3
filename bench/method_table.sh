#!/bin/sh
# The per-method table of docs/training.md: every method preset pre-trained at
# one budget on Fashion-MNIST with the default encoder, evaluated by the same
# protocol (kNN top-1, linear-probe top-1, RankMe, worst-3 classes), next to
# the two baselines of `sslkit main` (raw pixels; the encoder at random init).
#
# Usage: bench/method_table.sh BUILD_DIR [EPOCHS=1] [THREADS=2] [OUT=method-table] [METHOD...]
#   (methods default to all; vicreg runs through `sslkit main`, which adds the
#   baselines).  DIET keeps its 4096-image subset and gets the same number of
#   optimizer steps as the others (EPOCHS x 234 at batch 256 over 60000), i.e.
#   EPOCHS x 15 epochs of its 16 steps.  Each run's full output stays in
#   OUT/M.txt; the table (markdown) goes to stdout and OUT/table.md.  A
#   method this build does not know gets a "failed" row.  $SSLKIT_TABLE_ARGS
#   adds options to every run (e.g. "--steps-per-epoch 5" for a smoke test).
# SPDX-License-Identifier: BSD-3-Clause
set -eu
build=${1:?usage: method_table.sh BUILD_DIR [EPOCHS] [THREADS] [OUT] [METHOD...]}
epochs=${2:-1}
threads=${3:-2}
out=${4:-method-table}
[ $# -gt 4 ] && shift 4 || set --
methods=${*:-"vicreg byol simsiam moco_v2 moco_v3 barlow_twins dino swav vicreg_logdet vicreg_pairdist simclr msn pmsn diet supervised"}
sslkit="$build/tools/sslkit"
mkdir -p "$out"

# last five fields of a row of the printed table: kNN top-1, kNN top-5, linear, RankMe, worst-3
row() { # file label name-in-table
    awk -v want="$3" -v label="$2" -v secs="$4" '
        index($0, want) == 1 && NF >= 7 {
            printf "| %s | %s | %s | %s | %s | %s |\n", label, $(NF-4), $(NF-2), $(NF-1), $NF, secs
        }' "$1"
}

table="$out/table.md"
{
    echo "| method | kNN top-1 | linear top-1 | RankMe | worst-3 | wall s (train + eval) |"
    echo "|---|---|---|---|---|---|"
} > "$table"
for m in $methods; do
    t0=$(date +%s)
    case $m in
    vicreg)
        cmd="main --method vicreg --epochs $epochs" ;;
    diet)
        cmd="train --method diet --epochs $((epochs * 15))" ;;
    *)
        cmd="train --method $m --epochs $epochs" ;;
    esac
    # shellcheck disable=SC2086
    if ! nice "$sslkit" $cmd ${SSLKIT_TABLE_ARGS:-} --threads "$threads" --out "$out/run-$m" > "$out/$m.txt" 2> "$out/$m.err"; then
        echo "| $m | failed: see $out/$m.err | | | | |" >> "$table"
        continue
    fi
    secs=$(( $(date +%s) - t0 ))
    row "$out/$m.txt" "$m" "$m " "$secs" >> "$table"
    if [ "$m" = vicreg ]; then
        row "$out/$m.txt" "raw pixels (baseline)" "raw pixels" "-" >> "$table"
        row "$out/$m.txt" "same encoder, random init (baseline)" "same encoder, random init" "-" >> "$table"
    fi
done
cat "$table"
