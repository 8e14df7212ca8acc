"""Rule-evaluation benchmark on Debian's real Prometheus: see `python -m tools.rulebench --help`."""
