"""Hardware specs, the bundled device catalog and YAML loading."""
