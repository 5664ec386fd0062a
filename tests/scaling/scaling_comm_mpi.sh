# scaling_comm_mpi.sh — test_comm on two MPI ranks: once with the CPU backend's in-place MPI path,
# once with LVT_COMM_DEVICE=staged forcing the host-staging path (device -> host -> MPI -> device).
set -u
TEST_COMM=$1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
command -v mpirun > /dev/null || { echo "no mpirun: skipped"; exit 77; }
MPIRUN=(mpirun --oversubscribe --bind-to none)
"${MPIRUN[@]}" -np 2 "$TEST_COMM" 2 mpi || { echo "FAIL: test_comm on 2 ranks (mpi path)"; exit 1; }
"${MPIRUN[@]}" -np 2 -x LVT_COMM_DEVICE=staged "$TEST_COMM" 2 staged ||
  { echo "FAIL: test_comm on 2 ranks (staged path)"; exit 1; }
# three ranks: nothing is special-cased for two
"${MPIRUN[@]}" -np 3 "$TEST_COMM" 3 mpi || { echo "FAIL: test_comm on 3 ranks"; exit 1; }
echo "PASS"
