"""llm-roofline: roofline analysis of LLM inference."""
