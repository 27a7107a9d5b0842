"""Where the sandbox is reachable: from the serving request (the server puts its origins into
the environ, so tests on ephemeral ports work) or, outside a request, from settings."""

from django.conf import settings

from . import defaults


def origin(request=None) -> str:
    if request is not None and request.META.get("sandbox.origin"):
        return request.META["sandbox.origin"]
    return defaults.origin(settings.SANDBOX_HOST, settings.SANDBOX_PORT)


def browser_origin(request=None) -> str:
    if request is not None and request.META.get("sandbox.browser_origin"):
        return request.META["sandbox.browser_origin"]
    return defaults.browser_origin(settings.SANDBOX_HOST, settings.SANDBOX_PORT - 1)


def graph_base(request=None) -> str:
    return origin(request) + defaults.GRAPH_PATH
