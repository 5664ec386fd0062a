# sh_common.sh — sourced first by every shell test of lvt train / distributed runs: the scratch
# directory $T (named by $1, emptied), the binary, python and source paths, and fail().
set -u
T="$LVT_TEST_TMP/$1"
rm -rf "$T" && mkdir -p "$T"
LVT="$LVT_BIN"
PY="$LVT_PYTHON"
SRC="$LVT_SOURCE_DIR"
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*"; exit 1; }
