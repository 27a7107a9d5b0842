"""The sandbox's CQL subset, parsed into database filters."""

import random

import pytest

from sandbox.atlassian import cql
from sandbox.atlassian.models import Page
from sandbox.atlassian.seed import seed_atlassian


@pytest.fixture
def seeded(db):
    seed_atlassian(random.Random(1), 5)  # noqa: S311


def _count(text):
    query, order = cql.parse(text)
    return Page.objects.filter(query).order_by(*order).count()


def test_type_space_and_or(seeded):
    assert _count("type = page AND space = HR") == 12
    assert _count("type = blogpost") == 3
    assert _count('space = "HR" OR space = PUB') == 18
    assert _count('space IN (HR, PUB) AND NOT title ~ "1"') < 18
    assert _count("type = page and (space = HR or space = PUB)") == 18


def test_dates_titles_and_order(seeded):
    assert _count('lastModified >= "2018/12/31"') + _count('lastModified < "2018/12/31"') == Page.objects.count()
    assert _count('title ~ "People page 1"') >= 1
    query, order = cql.parse("space = ENG order by lastmodified desc")
    assert order[0] == "-modified_at"


@pytest.mark.parametrize("text", ["", "nonsense ~~ (", "space =", "colour = red", "lastModified >= tomorrow"])
def test_invalid_cql(text):
    with pytest.raises(cql.CQLError):
        cql.parse(text)
