"""api.editing: features edited in place (create, merge-patch, retire, restore), with history."""
