"""`python -m api.cli` runs the onemap command line."""

from api.cli import app

app()
