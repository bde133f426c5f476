"""`python -m bot` is the `costbot` command."""

from bot.app import run

run()
