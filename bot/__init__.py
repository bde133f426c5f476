"""costbot: cloud spend answers, digests and fixes for ML teams, in Slack and the terminal."""

__version__ = "0.1.0"
