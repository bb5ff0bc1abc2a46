"""Pydantic request and response models: the API's shapes, apart from the ORM models."""
