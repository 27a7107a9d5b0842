"""The endpoint declarations: a request finds its declaration, and a declaration needs its doc."""

import pytest

from connections import endpoints


def test_a_request_path_finds_its_declaration_by_template():
    channels = endpoints.declare(
        "graph.test_channels", "GET", "/v1.0/teams/{team_id}/channels",
        permissions=("Channel.ReadBasic.All",), reads=("id",), keeps=("id",),
        reference="https://learn.microsoft.com/graph/api/channel-list",
    )
    assert endpoints.find("graph", "get", "/v1.0/teams/abc-123/channels") == channels
    assert endpoints.find("graph", "GET", "/v1.0/teams/abc/channels/x/tabs") is None  # a longer path
    assert endpoints.find("graph", "POST", "/v1.0/teams/abc/channels") is None
    assert endpoints.find("jira", "GET", "/v1.0/teams/abc/channels") is None


def test_a_declaration_without_a_vendor_reference_is_refused():
    with pytest.raises(ValueError, match="reference"):
        endpoints.declare("graph.test_nodoc", "GET", "/v1.0/x", permissions=("User.Read",), reference="")


def test_beta_paths_are_marked_as_preview_apis():
    beta = endpoints.declare(
        "graph.test_beta", "GET", "/beta/teams", permissions=("Team.ReadBasic.All",),
        reference="https://learn.microsoft.com/graph/api/teams-list",
    )
    assert beta.beta
