"""api.routers: one router a resource."""
