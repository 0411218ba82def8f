"""The REST API: routes (app.py), the service layer (changes.py) and error → HTTP mapping (errors.py)."""
