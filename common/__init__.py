"""Plain helpers with no models, shared by every app: identifiers, masking,
money. Nothing here imports Django models."""
