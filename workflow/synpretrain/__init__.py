"""Synthetic pre-training of NequIP interatomic potentials."""
