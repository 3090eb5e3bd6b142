"""Soak and fault-injection runs for the edge runtime (issue 11, point 9); results in
benchmarks/results/soak/, commands in docs/soak.md."""
