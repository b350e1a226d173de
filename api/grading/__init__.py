"""api.grading: dynamic four-colour risk grading (GRADING.md): parameters, model, SQL path."""
