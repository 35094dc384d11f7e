"""Helpers for testing taskapi, or any deployment of it: the real server on a free port
(`liveserver`), throwaway databases on either backend (`databases`), and the Schemathesis contract
run (`contract`, `make contract`). tests/, bench/ and the Makefile share them; they need the
development dependencies (httpx, Schemathesis), not the server's.
"""
