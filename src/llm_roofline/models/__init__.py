"""Model specs, HF config.json parsing and the bundled model catalog."""
