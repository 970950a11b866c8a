"""The Portico demo (`make run`)."""
