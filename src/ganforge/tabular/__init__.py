"""Tabular synthesis (CTGAN-class), evaluation helpers and GAIN imputation."""
