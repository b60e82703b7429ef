# A package so test module names (test_memory, test_workload ...) cannot collide with same-named tests of other
# subsystems under pytest's default import mode.
