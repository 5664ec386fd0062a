#!/usr/bin/env bash
# config_limits.sh — a path too long once joined to the config's directory is an error (never
# truncated into another directory), as is a --run-dir too long for its checkpoint names; a shape
# that cannot fit in this machine's memory is refused before any allocation (d_model 23170); a
# config nested past the parser's limit gets a one-line message without a raw excerpt.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_config_limits
tiny_run "$T/cfg.json" 1
one() { [ "$(wc -l < "$1")" = 1 ] || { cat "$1"; fail "$2: more than one line"; }; }
long=$(printf 'd%.0s' $(seq 1000))/$(printf 'e%.0s' $(seq 1000))
"$LVT" train "$T/cfg.json" --set output.run_dir="$long" > "$T/p.log" 2>&1 && fail "a truncated run_dir was accepted"
grep -q "path longer than" "$T/p.log" || { cat "$T/p.log"; fail "long path: unclear"; }
one "$T/p.log" "long path"
"$LVT" train "$T/cfg.json" --run-dir "$T/$(printf 'r%.0s' $(seq 1000))" > "$T/r.log" 2>&1 && fail "a long --run-dir accepted"
grep -q "longer than" "$T/r.log" || { cat "$T/r.log"; fail "long run dir: unclear"; }
"$LVT" train "$T/cfg.json" --run-dir "$T/big" --set model.d_model=23170 --set model.n_heads=2 > "$T/m.log" 2>&1 && fail "d_model 23170 accepted"
grep -q "model.d_model 23170 .* needs at least .* GiB, more than this machine's" "$T/m.log" || { cat "$T/m.log"; fail "memory: unclear"; }
one "$T/m.log" memory
"$PY" -c "print('{\"a\": ' + '[' * 1100 + ']' * 1100 + '}')" > "$T/deep.json"
"$LVT" train "$T/deep.json" --run-dir "$T/deep" > "$T/d.log" 2>&1 && fail "deep config accepted"
grep -q "nested 1101 levels deep; a config nests at most 1000 levels" "$T/d.log" || { cat "$T/d.log"; fail "nesting: unclear"; }
grep -q "\[\[\[" "$T/d.log" && fail "nesting message shows a raw excerpt"
one "$T/d.log" nesting
echo "config_limits: passed"
