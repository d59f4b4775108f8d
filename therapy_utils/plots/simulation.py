"""Figures of the simulated courses (01_simulate_therapy_courses, 06_interactive_course_builder)."""

from __future__ import annotations
