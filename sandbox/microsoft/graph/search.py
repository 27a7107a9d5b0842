"""Microsoft Search connections (Graph connectors): the list of the calling app's own
connections. The sandbox keeps none yet, so an app allowed to look gets an empty list, and
one without the permission gets Graph's 403, which is what a health check needs to tell."""

from django.views.decorators.http import require_GET

from .common import GENERIC, context_url, graph_endpoint, ok

# Reference: https://learn.microsoft.com/graph/api/externalconnectors-externalconnection-list
EXTERNAL_CONNECTIONS = (
    "ExternalConnection.ReadWrite.OwnedBy", "ExternalConnection.Read.All", "ExternalConnection.ReadWrite.All",
)


@require_GET
@graph_endpoint(application=EXTERNAL_CONNECTIONS, delegated=EXTERNAL_CONNECTIONS, workload=GENERIC)
def external_connections(request, caller, version):
    return ok({"@odata.context": context_url(request, version, "external/connections"), "value": []})
