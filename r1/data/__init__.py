"""Data helpers shared by the phases: prompt formatting and dataset loading."""
