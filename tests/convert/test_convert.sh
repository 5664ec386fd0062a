#!/usr/bin/env bash
# test_convert.sh — end-to-end tests of `lvt convert`. Inputs are written by numpy
# (convert_make.py, convert_hostile.py); outputs are read back with h5py and compared with
# references built in Python (convert_check.py).
# usage: test_convert.sh layouts|split|hostile
set -u
mode=${1:?mode}
T="$LVT_SOURCE_DIR/tests/convert"
W="$LVT_TEST_TMP/convert_$mode"
rm -rf "$W" && mkdir -p "$W"
"$LVT_PYTHON" -c "import numpy, h5py" 2>/dev/null || { echo "numpy/h5py missing: skipped"; exit 77; }
fail=0

# run NAME ARGS...: convert must succeed; its stdout goes to $W/NAME.log
run() {
  local name=$1; shift
  if ! "$LVT_BIN" convert "$@" >"$W/$name.log" 2>"$W/$name.err"; then
    echo "FAIL $name: lvt convert $* exited non-zero: $(cat "$W/$name.err")"; fail=1
  fi
}
# check OUT.h5 EXPECT SOURCE
check() { "$LVT_PYTHON" "$T/convert_check.py" "$1" "$W/expect_$2.npz" "$3" || fail=1; }
# has NAME TEXT: the log of run NAME contains TEXT
has() { grep -qF -- "$2" "$W/$1.log" || { echo "FAIL $1: output lacks '$2':"; cat "$W/$1.log"; fail=1; }; }
# bad NAME TEXT ARGS...: convert must exit 1 with exactly one stderr line containing TEXT
bad() {
  local name=$1 text=$2; shift 2
  "$LVT_BIN" convert "$@" >"$W/$name.log" 2>"$W/$name.err"; local rc=$?
  local lines; lines=$(wc -l <"$W/$name.err")
  if [ "$rc" != 1 ]; then echo "FAIL $name: exit code $rc, expected 1"; fail=1; fi
  if [ "$lines" != 1 ]; then echo "FAIL $name: $lines stderr lines, expected 1"; fail=1; fi
  if ! grep -qF -- "$text" "$W/$name.err"; then
    echo "FAIL $name: message lacks '$text': $(cat "$W/$name.err")"; fail=1
  else
    echo "ok $name: $(cat "$W/$name.err")"
  fi
}

case $mode in
layouts)
  "$LVT_PYTHON" "$T/convert_make.py" "$W" >/dev/null || { echo "FAIL: convert_make.py"; exit 1; }
  # articles NPZ: shuffled rows are grouped, stored and deflated zips, int32 indices
  run art_shuffled "$W/art_shuffled.npz" --out "$W/art_shuffled.h5"
  check "$W/art_shuffled.h5" art_shuffled art_shuffled.npz
  has art_shuffled "not grouped by article"
  has art_shuffled "wrote $W/art_shuffled.h5: 12 articles"
  run art_shuffled_z "$W/art_shuffled_z.npz" --out "$W/art_shuffled_z.h5" --compress 4
  check "$W/art_shuffled_z.h5" art_shuffled art_shuffled_z.npz
  # grouped input keeps its article order
  run art_grouped "$W/art_grouped.npz" --out "$W/art_grouped.h5"
  check "$W/art_grouped.h5" art_grouped art_grouped.npz
  # float16 (with subnormals) and float64 inputs, a version-2.0 .npy member
  run art_f16 "$W/art_f16.npz" --out "$W/art_f16.h5"
  check "$W/art_f16.h5" art_f16 art_f16.npz
  run art_f64 "$W/art_f64.npz" --out "$W/art_f64.h5"
  check "$W/art_f64.h5" art_f64 art_f64.npz
  run art_v2 "$W/art_v2.npz" --out "$W/art_v2.h5"
  check "$W/art_v2.h5" art_v2 art_v2.npz
  # sequences NPZ with ids: articles rebuilt (with a gap split) from shuffled windows
  run seq_ids "$W/seq_ids.npz" --out "$W/seq_ids.h5"
  check "$W/seq_ids.h5" seq_ids seq_ids.npz
  has seq_ids "rebuilt 10 articles"
  has seq_ids "split at its gaps"
  run seq_ids_z "$W/seq_ids_z.npz" --out "$W/seq_ids_z.h5"
  check "$W/seq_ids_z.h5" seq_ids seq_ids_z.npz
  # overlapping copies that disagree: an error, unless the tolerance allows it
  bad seq_inconsistent "with different values (max |diff| 0.25" "$W/seq_inconsistent.npz" --out "$W/x.h5"
  run seq_tolerant "$W/seq_inconsistent.npz" --out "$W/seq_tol.h5" --tolerance 0.3
  # sequences NPZ without ids: 6-chunk articles, a note; the pickled metadata is ignored
  run seq_noids "$W/seq_noids.npz" --out "$W/seq_noids.h5"
  check "$W/seq_noids.h5" seq_noids seq_noids.npz
  has seq_noids "becomes its own 6-chunk article"
  has seq_noids "metadata' is a pickled Python object array"
  # raw .npy: one article, or --article-len rows each; (N, 5, D) has no targets
  run raw_one "$W/raw.npy" --out "$W/raw_one.h5"
  check "$W/raw_one.h5" raw_one raw.npy
  run raw_len7 "$W/raw.npy" --out "$W/raw_len7.h5" --article-len 7
  check "$W/raw_len7.h5" raw_len7 raw.npy
  bad raw_windows "carries no targets" "$W/raw_windows.npy" --out "$W/x.h5"
  ;;
split)
  "$LVT_PYTHON" "$T/convert_make.py" "$W" >/dev/null || { echo "FAIL: convert_make.py"; exit 1; }
  mkdir -p "$W/data"
  run split "$W/split.npz" --out "$W/data/all.h5" --split val=10-19 --split ood=30-34
  check "$W/data/all-train.h5" split_train split.npz
  check "$W/data/all-val.h5" split_val split.npz
  check "$W/data/all-ood.h5" split_ood split.npz
  [ -e "$W/data/all.h5" ] && { echo "FAIL split: all.h5 written although splits were given"; fail=1; }
  has split "wrote $W/data/all-val.h5: 10 articles"
  has split "wrote $W/data/all-ood.h5: 5 articles"
  has split "wrote $W/data/all-train.h5: 25 articles"
  ls "$W/data" | grep -q tmp && { echo "FAIL split: temporary files left: $(ls "$W/data")"; fail=1; }
  bad split_overlap "--split ranges overlap: val=10-19 and ood=15-34" "$W/split.npz" --out "$W/o.h5" \
    --split val=10-19 --split ood=15-34
  bad split_empty "split 'far' (article ids 1000-2000) matches no article" "$W/split.npz" --out "$W/o.h5" \
    --split far=1000-2000
  bad split_train "'train' is reserved" "$W/split.npz" --out "$W/o.h5" --split train=1-2
  bad split_syntax "expects NAME=LO-HI" "$W/split.npz" --out "$W/o.h5" --split val:1-2
  bad split_order "LO 9 is greater than HI 3" "$W/split.npz" --out "$W/o.h5" --split val=9-3
  [ -e "$W/o-val.h5" ] || [ -e "$W/o-train.h5" ] && { echo "FAIL: a failed split wrote files"; fail=1; }
  ;;
hostile)
  "$LVT_PYTHON" "$T/convert_hostile.py" "$W" >/dev/null || { echo "FAIL: convert_hostile.py"; exit 1; }
  o="$W/out.h5"
  bad trunc_zip "trunc.npz: truncated or damaged zip archive (no end-of-central-directory" "$W/trunc.npz" --out "$o"
  bad not_zip "notzip.npz: not an NPZ (zip) or .npy file" "$W/notzip.npz" --out "$o"
  bad obj_dtype "member 'article_indices' has dtype '|O': a pickled Python object array" "$W/objdtype.npz" --out "$o"
  bad meta_only "needs article_indices; member 'metadata' is a pickled Python object array" "$W/metaonly.npz" --out "$o"
  bad fortran "member 'vectors' is stored in Fortran order" "$W/fortran.npz" --out "$o"
  bad big_endian "member 'vectors' has big-endian dtype '>f4'" "$W/bigend.npz" --out "$o"
  bad trunc_member "member 'vectors': truncated data" "$W/trunc_member.npz" --out "$o"
  bad trunc_npy "trunc.npy: truncated data" "$W/trunc.npy" --out "$o"
  bad no_targets "sequences NPZ needs target_vectors or targets" "$W/notargets.npz" --out "$o"
  bad no_layout "members: embeddings" "$W/nolayout.npz" --out "$o"
  bad nan "vectors[13] contains NaN or Inf" "$W/nan.npz" --out "$o"
  bad int16 "has dtype '<i2', which is not supported" "$W/int16.npz" --out "$o"
  bad short_index "member 'article_indices' has shape (29,), expected (30,)" "$W/shortidx.npz" --out "$o"
  bad dup_chunk "article 1 has chunk index 2 twice" "$W/dupchunk.npz" --out "$o"
  bad bad_tix "target_indices[2] = 3 is less than the context length 5" "$W/badtix.npz" --out "$o"
  bad crc "member 'vectors': cannot read the zip member: CRC error" "$W/crc.npz" --out "$o"
  bad inflate "inflate.npz:" "$W/inflate.npz" --out "$o"
  bad missing_file "cannot open" "$W/nonexistent.npz" --out "$o"
  bad no_out "--out OUT.h5 is required" "$W/full.npz"
  bad unknown_flag "unknown option '--bogus'" "$W/full.npz" --out "$o" --bogus
  [ -e "$o" ] && { echo "FAIL hostile: $o was written by a failing conversion"; fail=1; }
  # an existing output is left untouched by a failing conversion
  echo keep >"$o"
  bad keep_existing "truncated or damaged zip" "$W/trunc.npz" --out "$o"
  [ "$(cat "$o")" = keep ] || { echo "FAIL hostile: a failing conversion damaged the existing output"; fail=1; }
  ;;
*) echo "unknown mode $mode"; exit 1 ;;
esac
[ $fail = 0 ] && echo "test_convert $mode: passed"
exit $fail
