#!/usr/bin/env bash
# hostile_safetensors.sh — a safetensors file is validated before anything is allocated from it:
# a layer index far past the layers present (or past INT_MAX), invalid n_heads metadata, a key
# given twice, overlapping or fractional data offsets, an unknown dtype and NaN weights are each
# refused with one line and exit 1 (never a crash, never a huge allocation: memory is capped
# with ulimit -v). The untouched file still loads.
source "$LVT_SOURCE_DIR/tests/reliability/rel_common.sh" rel_hostile_safetensors
tiny_run "$T/cfg.json" 1
"$LVT" init "$T/cfg.json" --out "$T/init.h5" > /dev/null || fail "init"
"$LVT" export "$T/init.h5" --out "$T/good.safetensors" > /dev/null || fail "export"
"$LVT" export "$T/good.safetensors" --out "$T/again.safetensors" > /dev/null || fail "the good file does not load"
"$PY" - "$T" <<'PY' || fail "cannot write the hostile files"
import json, struct, sys
T = sys.argv[1]
raw = open(T + "/good.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); data = raw[8 + n:]
def write(name, h, d=data, text=None):
    t = (text if text is not None else json.dumps(h)).encode()
    t += b" " * ((8 - (8 + len(t)) % 8) % 8)
    open(T + "/" + name + ".safetensors", "wb").write(struct.pack("<Q", len(t)) + t + d)
l0 = "transformer_decoder.layers.0.linear1.weight"
def variant(**kw):
    h = json.loads(json.dumps(hdr)); h.update(kw); return h
small = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
write("layer_far", variant(**{"transformer_decoder.layers.100000.linear1.bias": small}), data + bytes(4))
write("layer_gap", variant(**{"transformer_decoder.layers.3.linear1.bias": small}), data + bytes(4))
write("layer_intmax", variant(**{"transformer_decoder.layers.2147483647.linear1.bias": small}), data + bytes(4))
h = variant(); h["__metadata__"]["n_heads"] = "abc"; write("heads", h)
h = variant(); h["__metadata__"]["n_heads"] = "-4"; write("heads_neg", h)
txt = json.dumps(hdr); k = '"%s": %s' % (l0, json.dumps(hdr[l0]))
write("duplicate", None, text=txt[:-1] + ", " + k + "}")
h = variant(); names = [x for x in h if x != "__metadata__"]
a, b = names[0], names[1]
h[b]["data_offsets"] = [h[a]["data_offsets"][0], h[a]["data_offsets"][0] + (h[b]["data_offsets"][1] - h[b]["data_offsets"][0])]
write("overlap", h)
h = variant(); h[a]["data_offsets"] = [0.5, h[a]["data_offsets"][1] + 0.5]; write("fractional", h)
h = variant(); h[a]["dtype"] = "F32\u0000"; write("dtype_nul", h)
h = variant(); h[a]["dtype"] = "f32"; write("dtype_lower", h)
h = variant(); h[a]["shape"] = [1.5] + h[a]["shape"][1:]; write("shape_frac", h)
d = bytearray(data); o = hdr[l0]["data_offsets"][0]; d[o:o + 4] = struct.pack("<f", float("nan")); write("nan", hdr, bytes(d))
PY
check() { # NAME EXPECTED-TEXT
  ( ulimit -v 2000000; "$LVT" export "$T/$1.safetensors" --out "$T/out_$1.safetensors" ) > "$T/$1.log" 2>&1
  rc=$?
  [ $rc = 1 ] || { cat "$T/$1.log"; fail "$1: exit $rc, not 1"; }
  grep -q -- "$2" "$T/$1.log" || { cat "$T/$1.log"; fail "$1: unclear message"; }
  [ "$(wc -l < "$T/$1.log")" = 1 ] || { cat "$T/$1.log"; fail "$1: more than one line"; }
}
check layer_far "has no valid layer index"
check layer_gap "layer 1 has no tensor"
check layer_intmax "has no valid layer index"
check heads "n_heads is not a positive whole number"
check heads_neg "n_heads is not a positive whole number"
check duplicate "appears twice"
check overlap "overlap in the data"
check fractional "invalid data_offsets"
check dtype_nul "holds a NUL character"
check dtype_lower "has dtype"
check shape_frac "invalid shape"
check nan "non-finite value"
echo "hostile_safetensors: passed"
