"""Cookbook-Mix: template mixtures for several target tasks (METHODS.md §1)."""
