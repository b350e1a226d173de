"""api.grading: dynamic four-colour risk grading (docs/grading-model.md): parameters, model, SQL
path."""
