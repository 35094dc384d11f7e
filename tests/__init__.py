"""taskapi's tests, by kind: unit/, integration/, api/ (in-process app), contract/ (live server)."""
