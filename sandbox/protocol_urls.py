"""The URLconf of the sandbox's own origins (see sandbox/server.py and sandbox/middleware.py).

Graph at /graph/, Atlassian at /atlassian-auth/, /atlassian-api/ and /sites/<name>/, and the
Microsoft identity platform at the root, last, because its first segment is any tenant.
"""

import importlib

from django.urls import include, path

urlpatterns = [
    path("graph/", include("sandbox.microsoft.graph_urls")),
    path("botframework/", include("sandbox.microsoft.bot_urls")),
]

# The Atlassian side is written separately (sandbox/atlassian/urls.py). Its paths either
# start with the prefixes themselves, or are relative to them: then the same list is
# mounted under each prefix, sites with the site's name as `name`.
_PREFIXES = ("atlassian-auth/", "atlassian-api/", "sites/")
try:
    _atlassian = importlib.import_module("sandbox.atlassian.urls")
except ModuleNotFoundError as missing:
    if missing.name != "sandbox.atlassian.urls":
        raise
else:
    if any(str(p.pattern).lstrip("^").startswith(_PREFIXES) for p in _atlassian.urlpatterns):
        urlpatterns.append(path("", include(_atlassian)))
    else:
        urlpatterns += [
            path("atlassian-auth/", include(_atlassian)),
            path("atlassian-api/", include(_atlassian)),
            path("sites/<str:name>/", include(_atlassian)),
        ]

urlpatterns.append(path("", include("sandbox.microsoft.urls")))

handler400 = "sandbox.views.bad_request"
handler403 = "sandbox.views.permission_denied"
handler404 = "sandbox.views.not_found"
handler500 = "sandbox.views.server_error"
