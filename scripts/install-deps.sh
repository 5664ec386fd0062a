#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages lvt builds and tests with (run as root, or with sudo).
# Usage: scripts/install-deps.sh [--no-torch]   (--no-torch skips the Python packages: the PyTorch
# reference tests, the real-text tool and `lvt report`; their tests then skip)
# slurm-wlm and munge are for the SLURM launch test (a real one-node cluster started by the test).
# python3-sklearn builds the real-text data set (tools/realtext, docs/realtext.md); python3-matplotlib
# draws `lvt report` (docs/report.md). clang, libclang-rt-14-dev (libFuzzer and clang's sanitizer
# runtimes), libomp-dev and llvm (llvm-symbolizer) are for the fuzz build, libasan8/libubsan1
# (GCC's) for the sanitizer run (docs/reliability.md). OpenBLAS: lvt links the OpenMP build
# (libopenblas-openmp-dev), the pthreads build stays the system default (what PyTorch loads;
# docs/bench.md, "One thread pool").
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libcjson-dev
      libopenblas-dev libopenblas-pthread-dev libopenblas-openmp-dev libzip-dev slurm-wlm munge procps clang libclang-rt-14-dev libomp-dev llvm
      libasan8 libubsan1"
if [ "${1:-}" != "--no-torch" ]; then
  PKGS="$PKGS python3-torch python3-numpy python3-h5py python3-sklearn python3-matplotlib"
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing$missing"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
else
  echo "install-deps: all packages present"
fi
