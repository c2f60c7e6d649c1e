#!/bin/bash
# Submits the array, then the merge to run once every task has succeeded.
#   DATA=/shared/rendergan COUNT=1000000 deploy/slurm/submit.sh
set -euo pipefail
cd "$(dirname "$0")"
job=$(sbatch --parsable --export=ALL generate.sbatch)
sbatch --dependency="afterok:${job%%;*}" --export=ALL merge.sbatch
