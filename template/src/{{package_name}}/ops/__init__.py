"""Command-line helpers behind the Makefile targets (`python -m <package>.ops.<name>`)."""
