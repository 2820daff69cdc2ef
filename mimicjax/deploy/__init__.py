"""From a trained run to something that runs elsewhere.

`export.export_policy` (`mimicjax export`) writes a policy on its own: the network parameters and
observation normaliser of one checkpoint, with the run's resolved config, in the layout of a run
directory, so that `mimicjax eval`, `mimicjax distill --teacher-dir` and the demo read it like the run
it came from. It is what the project ships under data/policies/ (a few MB instead of the ~10 MB of a
checkpoint that also holds optimiser and rollout state).
"""
