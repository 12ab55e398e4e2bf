"""Eligibility methods: one module per method (``idcard``: My Number Card style ID cards)."""
