"""Measuring the stages: lifter, ergonomics, cue and action evaluations with their metrics and reports."""
