#!/usr/bin/env bash
# disk_full.sh — a full disk (a 600 KiB tmpfs) ends lvt train, lvt init and lvt synth with exit 1 and
# one line naming the file and "No space left on device" (no crash in HDF5's shutdown); no
# temporary file is left, every older checkpoint still loads, and once space is freed (remount
# larger) --resume finishes bit-identical to an uninterrupted run. Skips (77) where mount -t tmpfs
# is not permitted.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_disk_full
M="$T/mnt"
mkdir -p "$M"
mount -t tmpfs -o size=600k tmpfs "$M" 2> /dev/null || { echo "disk_full: skipped (mount -t tmpfs not permitted)"; exit 77; }
trap 'umount "$M" 2> /dev/null' EXIT
tiny_run "$T/cfg.json" 3
"$LVT" train "$T/cfg.json" --run-dir "$T/ref" > "$T/ref.log" 2>&1 || fail "reference run"
"$LVT" train "$T/cfg.json" --run-dir "$M/run" > "$T/full.out" 2> "$T/full.err"
rc=$?
[ $rc = 1 ] || { cat "$T/full.err"; fail "train on a full disk: exit $rc, not 1"; }
grep -q "No space left on device" "$T/full.err" || { cat "$T/full.err"; fail "train: unclear message"; }
[ "$(wc -l < "$T/full.err")" = 1 ] || { cat "$T/full.err"; fail "train: more than one error line"; }
! ls -A "$M/run/ckpt" | grep -q '\.tmp\.' || fail "temporary file left on the full disk"
n=0
for f in "$M"/run/ckpt/*.h5; do
  "$LVT" export "$f" --out "$T/check.safetensors" > /dev/null 2>&1 || fail "$f does not load after the full disk"
  n=$((n + 1))
done
[ $n -ge 2 ] || fail "only $n checkpoints were written before the disk filled"
for cmd in "init $T/cfg.json --out $M/i.h5 --set model.d_model=256" "synth --out $M/s.h5 --articles 4000 --dim 64"; do
  "$LVT" $cmd > "$T/cmd.out" 2> "$T/cmd.err"
  rc=$?
  [ $rc = 1 ] || { cat "$T/cmd.err"; fail "lvt ${cmd%% *} on a full disk: exit $rc"; }
  [ "$(wc -l < "$T/cmd.err")" = 1 ] || { cat "$T/cmd.err"; fail "lvt ${cmd%% *}: more than one line"; }
done
mount -o remount,size=4m "$M" || fail "remount"
"$LVT" train "$T/cfg.json" --resume "$M/run" > "$T/resume.log" 2>&1 || { cat "$T/resume.log"; fail "resume after freeing space"; }
"$PY" "$SRC/tests/common/ckpt_compare.py" "$T/ref/ckpt/last.h5" "$M/run/ckpt/last.h5" 0 > /dev/null || fail "resumed run differs"
echo "disk_full: $n checkpoints intact after the disk filled; resume bit-identical"
echo "disk_full: passed"
