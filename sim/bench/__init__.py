"""The benchmarks behind `scripts/bench`: emulation speed and scenario cost as ratios to bare
unicorn and to real time (see benchmarks.py and README.md, Benchmarks). `firmware/` holds the
source of the compute loop they run, built with `sim.baremetal`."""

from .benchmarks import MATRIX, TARGETS, BenchError, run_benchmarks

__all__ = ["run_benchmarks", "BenchError", "MATRIX", "TARGETS"]
