"""api.assessment: the national safety-development assessment (framework, scorecard, snapshots)."""
