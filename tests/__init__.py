"""The tests, laid out as ``bot/`` is; ``ROOT`` is the repository, ``TESTS`` this folder."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
