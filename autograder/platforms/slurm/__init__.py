"""SLURM: the array job (:mod:`.array`: write, submit, follow, merge), its ``sbatch`` script (:mod:`.script`), a
one-machine cluster for demos and tests (:mod:`.cluster`) and ``make slurm-demo`` (:mod:`.demo`)."""
