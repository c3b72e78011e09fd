"""What a user runs: the command line, the demo and its scene, the benchmark, the reports."""
