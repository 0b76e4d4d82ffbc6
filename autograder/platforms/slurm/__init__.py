"""SLURM: the array job's ``sbatch`` script (:mod:`.script`) and a one-machine cluster for demos and tests
(:mod:`.cluster`)."""
