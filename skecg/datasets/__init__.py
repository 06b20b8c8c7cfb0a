"""Datasets: the bundled real sample (offline)."""

from ._sample import load_sample, sample_summary

__all__ = ["load_sample", "sample_summary"]
