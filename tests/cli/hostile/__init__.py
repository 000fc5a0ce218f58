"""Hostile pruners for tests/cli/test_hostile_pruners.py: code under test that exits, kills
itself, segfaults, hangs or floods its output. Never import these modules in a test process:
the checker loads them in its isolated worker."""
