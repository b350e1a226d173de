"""api.incidents: incidents, their response plan, dispatch of teams and depot items, CAP alerts."""
