"""The URLconf of the sandbox's own origins (see sandbox/server.py and sandbox/middleware.py).

Graph at /graph/, Atlassian at /atlassian-auth/, /atlassian-api/ and /sites/<name>/, and the
Microsoft identity platform at the root, last, because its first segment is any tenant.
"""

import importlib

from django.urls import include, path

urlpatterns = [path("graph/", include("sandbox.microsoft.graph_urls"))]

# The Atlassian side is written separately: its URLconf lists full paths under
# atlassian-auth/, atlassian-api/ and sites/<name>/.
try:
    importlib.import_module("sandbox.atlassian.urls")
except ModuleNotFoundError as missing:
    if missing.name != "sandbox.atlassian.urls":
        raise
else:
    urlpatterns.append(path("", include("sandbox.atlassian.urls")))

urlpatterns.append(path("", include("sandbox.microsoft.urls")))

handler400 = "sandbox.views.bad_request"
handler403 = "sandbox.views.permission_denied"
handler404 = "sandbox.views.not_found"
handler500 = "sandbox.views.server_error"
