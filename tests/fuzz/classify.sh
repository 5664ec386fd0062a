# classify.sh — sourced by run_fuzz.sh (and test_classify.sh): the rules that decide whether a
# failing fuzz input is lvt's or the HDF5 library's, each reading one sanitizer or libFuzzer report
# and printing 1 (inside HDF5) or 0 (lvt's). $SRC is the source tree: a frame is lvt's when it
# names a file under $SRC/src/ or $SRC/tests/ (compiled with -g). docs/reliability.md, "Fuzzing".

# awk functions every rule uses (src = "$SRC/"): is stack line l one of lvt's frames, one of
# libhdf5's, or either (the frames that decide; the sanitizer runtime, libFuzzer and libc don't)
CLASSIFY_AWK_FRAMES='
  function lvt_frame(l) { return index(l, " " src "src/") || index(l, " " src "tests/") }
  function hdf5_frame(l) { return l ~ /libhdf5/ }
  function deciding_frame(l) { return l ~ /^ +#[0-9]+ / && (lvt_frame(l) || hdf5_frame(l)) }
'

# 1 when the report in $1 is a crash inside HDF5 (run_fuzz.sh's header says when), 0 otherwise.
inside_hdf5() {
  awk -v src="$SRC/" "$CLASSIFY_AWK_FRAMES"'
    /ERROR: (AddressSanitizer|libFuzzer: deadly signal|libFuzzer: timeout)/ { inerr = 1; next }
    /runtime error:|fuzz harness:|LeakSanitizer|out-of-memory/ { lvt = 1 }
    # the first frame that is lvt source (compiled with -g: "in fn SRC/src/x.c:12") or in libhdf5
    # decides; the sanitizer runtime, libFuzzer and libc frames in between are skipped
    inerr && !decided && deciding_frame($0) { hdf5 = hdf5_frame($0); decided = 1 }
    /is located .*(src|tests)\// && index($0, src) { lvt = 1 }   # a global variable of lvt
    /allocated by thread|freed by thread|is located in stack of thread/ { inalloc = 1; next }
    inalloc && /^ +#[0-9]+ / && lvt_frame($0) { lvt = 1 }
    inalloc && /^$/ { inalloc = 0 }
    END { print (hdf5 && !lvt) ? 1 : 0 }' "$1"
}

# 1 when the report in $1 of a replay under -malloc_limit_mb names the allocation that broke the
# limit and its first frame outside the sanitizer runtime, libFuzzer and libc is in libhdf5.
big_malloc_in_hdf5() {
  awk -v src="$SRC/" "$CLASSIFY_AWK_FRAMES"'
    /ERROR: libFuzzer: out-of-memory \(malloc\(/ { inerr = 1; next }
    inerr && !decided && deciding_frame($0) { hdf5 = hdf5_frame($0); decided = 1 }
    END { print hdf5 ? 1 : 0 }' "$1"
}

# 1 when the RSS out-of-memory report in $1 says that at least 90 % of the live heap is in
# allocation contexts whose first frame outside the sanitizer runtime and libc is in libhdf5
# (measured in CI: 98 % of 1.6 GB in 10.5 million small blocks, all allocated inside HDF5).
live_heap_in_hdf5() {
  awk -v src="$SRC/" "$CLASSIFY_AWK_FRAMES"'
    /^Live Heap Allocations:/ { inlive = 1; next }
    inlive && match($0, /byte\(s\) \(([0-9]+)%\)/) { pct = substr($0, RSTART + 9, RLENGTH - 11) + 0; decided = 0; next }
    inlive && !decided && deciding_frame($0) { if (hdf5_frame($0)) sum += pct; decided = 1 }
    END { print (sum >= 90) ? 1 : 0 }' "$1"
}
