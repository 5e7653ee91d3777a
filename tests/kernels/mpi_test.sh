#!/bin/bash
# Runs kernels_data_parallel_mpi on 2 ranks of localhost; it exits non-zero when the
# 2-rank loss curve departs from the 1-process one.
#   mpi_test.sh MPIEXEC BINARY
set -euo pipefail
mpiexec=$1 binary=$2
# Open MPI refuses root (CI containers) unless told, and wants --oversubscribe on
# machines with fewer cores than ranks; these variables are ignored by other MPIs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
flags=()
[[ "$("$mpiexec" --version 2>&1)" == *"Open MPI"* ]] && flags=(--oversubscribe)
exec "$mpiexec" "${flags[@]}" -np 2 "$binary"
