from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.storage import schema
from tests.conftest import make_settings


@pytest.fixture
def empty_engine(tmp_path: Path) -> Engine:
    return schema.open_engine(make_settings(tmp_path / "data"))
