"""Optional integrations of mediahub with other Django apps (each its own sub-app)."""
