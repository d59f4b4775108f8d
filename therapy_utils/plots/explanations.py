"""Attributions per position and per method (10_explaining_predictions)."""

from __future__ import annotations
