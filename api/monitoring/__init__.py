"""api.monitoring: readings ingestion: readings in (readings/), monitoring points,
alarm rules, partition upkeep."""
