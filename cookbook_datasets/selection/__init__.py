"""Subset selection: embeddings, K-center and uncertainty baselines (one file per strategy)."""
