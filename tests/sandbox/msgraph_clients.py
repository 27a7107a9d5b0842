"""Microsoft's own clients pointed at the sandbox: azure-identity's client-secret credential
against the sandbox's token endpoint, and the Graph SDK (kiota request builders over httpx)."""

import ssl
from urllib.parse import urlsplit

import httpx
from azure.identity import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import GraphClientFactory

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def credential(sandbox, tenant) -> ClientSecretCredential:
    return ClientSecretCredential(
        tenant_id=sandbox.tenants[tenant].id,
        client_id=sandbox.client_id,
        client_secret=sandbox.client_secret,
        authority=urlsplit(sandbox.origin).netloc,
        disable_instance_discovery=True,
        connection_verify=sandbox.ca_bundle,
    )


def graph_client(sandbox, tenant, version="v1.0") -> GraphServiceClient:
    """A GraphServiceClient for the tenant's app-only token, with Graph's base URL moved to the sandbox."""
    host = urlsplit(sandbox.origin).hostname
    auth = AzureIdentityAuthenticationProvider(
        credential(sandbox, tenant), scopes=[GRAPH_DEFAULT], allowed_hosts=[host]
    )
    trusted = ssl.create_default_context(cafile=sandbox.ca_bundle)
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(verify=trusted))
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{sandbox.graph_url}/{version}"
    return GraphServiceClient(request_adapter=adapter)
