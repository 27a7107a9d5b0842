import pytest

from tests.connected import connect_acme


@pytest.fixture
def acme_live(sandbox, settings):
    return connect_acme(sandbox, settings)
