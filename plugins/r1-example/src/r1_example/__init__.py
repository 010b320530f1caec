"""An example r1 plugin package."""
