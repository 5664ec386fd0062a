#!/usr/bin/env bash
# dist_kill.sh — a rank that dies (SIGKILL) makes the whole job exit non-zero promptly; it never
# hangs. (60 s is a hang guard, not a timing target; the elapsed time is printed.)
source "$LVT_SOURCE_DIR/tests/dist/dist_common.sh" dist_kill
make_stores 32 200
write_config "$T/p4.json" 32
"${MPIRUN[@]}" -np 2 "$LVT" train "$T/p4.json" --run-dir "$T/k" --set train.epochs=1000 > "$T/k.log" 2>&1 &
job=$!
wait_step "$T/k" 10
victim=$(pgrep -f -- "--run-dir $T/k" | while read -r p; do [ "$(cat /proc/$p/comm 2>/dev/null)" = lvt ] && echo $p; done | tail -1)
[ -n "$victim" ] || fail "no rank process found"
t0=$(date +%s.%N)
kill -9 "$victim"
rc=0
for _ in $(seq 600); do kill -0 $job 2>/dev/null || break; sleep 0.1; done
if kill -0 $job 2>/dev/null; then pkill -9 -f -- "--run-dir $T/k"; kill -9 $job; fail "job still running 60 s after a rank died"; fi
wait $job; rc=$?
t1=$(date +%s.%N)
echo "job exited $rc, $(awk -v a="$t0" -v b="$t1" "BEGIN {printf \"%.2f\", b - a}") s after the rank was killed"
[ $rc != 0 ] || fail "job exited 0 after a rank died"
pgrep -f -- "--run-dir $T/k" > /dev/null && { pkill -9 -f -- "--run-dir $T/k"; fail "ranks left running"; }
echo "dist_kill: passed"
