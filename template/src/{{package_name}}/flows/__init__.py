"""One package per department, each with ingestion, processing, analysis and pipeline flows."""
