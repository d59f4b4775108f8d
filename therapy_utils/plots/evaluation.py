"""Predictions read against the truth (04_evaluation)."""

from __future__ import annotations
