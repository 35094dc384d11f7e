"""The servers taskapi is measured against."""
