"""The web face: ``llm-roofline serve`` (a FastAPI app and a static page over the same engine)."""
