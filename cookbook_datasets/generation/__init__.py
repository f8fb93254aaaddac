"""One generation engine for every model call in the project."""
