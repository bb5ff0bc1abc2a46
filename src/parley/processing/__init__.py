"""What the worker does to uploaded files: recognise, verify and preview them."""
