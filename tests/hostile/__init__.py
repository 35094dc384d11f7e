"""Hostile input against the live server."""
