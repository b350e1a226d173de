"""scripts: set-up helpers and the benchmark harness (`python -m scripts.bench`)."""
