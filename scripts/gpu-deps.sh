#!/usr/bin/env bash
# gpu-deps.sh — package what lvt's build needs from this Debian machine into gpu-deps/ (headers and
# shared libraries: HDF5, cJSON, libzip, OpenBLAS and their runtime closure), for a GPU machine
# that has CUDA, cmake and a compiler but none of the Debian -dev packages. Carry gpu-deps/ there
# (the device tool's `carry`), then build without MPI for the single-GPU checks:
#
#   export LD_LIBRARY_PATH=$PWD/gpu-deps/lib:$LD_LIBRARY_PATH
#   cmake -S . -B build-gpu -DLVT_MPI=OFF -DLVT_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
#         -DCMAKE_PREFIX_PATH=$PWD/gpu-deps -DHDF5_ROOT=$PWD/gpu-deps -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
#         -DBLAS_LIBRARIES=$PWD/gpu-deps/lib/libopenblas.so.0 -DCBLAS_INCLUDE_DIR=$PWD/gpu-deps/include
#   cmake --build build-gpu -j && ctest --test-dir build-gpu -L cuda --output-on-failure
#
# usage: scripts/gpu-deps.sh [OUT_DIR]     (default gpu-deps; prints its size: carry allows 64 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu-deps}
rm -rf "$OUT" && mkdir -p "$OUT/include/cjson" "$OUT/lib"
ML=/usr/lib/x86_64-linux-gnu
cp -L /usr/include/hdf5/serial/*.h "$OUT/include/"
cp -L /usr/include/cjson/cJSON.h "$OUT/include/cjson/"
cp -L /usr/include/zip.h /usr/include/zipconf.h "$OUT/include/"
cp -L /usr/include/x86_64-linux-gnu/openblas-pthread/{cblas.h,openblas_config.h} "$OUT/include/"
# the libraries lvt links and everything they pull in, minus glibc and the compiler runtime
libs="$ML/libhdf5_serial.so.103 $ML/libhdf5_serial_hl.so.100 $ML/libcjson.so.1 $ML/libzip.so.4 $ML/libopenblas.so.0"
for l in $libs; do
  cp -L "$l" "$OUT/lib/"
  ldd "$l" | awk '/=> \// {print $3}' | while read -r dep; do
    case "$(basename "$dep")" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|libresolv.so*|ld-linux*|libgcc_s.so*|libstdc++.so*|libgomp.so*) ;;
      *) [ -f "$OUT/lib/$(basename "$dep")" ] || cp -L "$dep" "$OUT/lib/" ;;
    esac
  done
done
# the link names the build looks for (OpenBLAS is named by path: -DBLAS_LIBRARIES)
ln -sf libhdf5_serial.so.103 "$OUT/lib/libhdf5.so"
ln -sf libhdf5_serial_hl.so.100 "$OUT/lib/libhdf5_hl.so"
ln -sf libcjson.so.1 "$OUT/lib/libcjson.so"
ln -sf libzip.so.4 "$OUT/lib/libzip.so"
echo "gpu-deps.sh: $OUT holds $(ls "$OUT/lib" | wc -l) library files, $(du -sh "$OUT" | cut -f1) in all"
