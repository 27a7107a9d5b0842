"""Which Confluence reader the crawl uses: settings.SEARCH_SOURCE names a function
(connection) -> ConfluenceSource (connections.search.types), the real reader by default."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from .types import ConfluenceSource


def source_for(connection) -> ConfluenceSource:
    return import_string(settings.SEARCH_SOURCE)(connection)
