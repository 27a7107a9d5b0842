"""Every request of a user matching run (Graph and the Atlassian site) is a declared endpoint
asking only for declared fields."""

from sandbox.requestlog import entries

from ..declared import atlassian_calls, graph_calls, undeclared_atlassian, undeclared_graph


def test_every_request_of_a_user_matching_run_is_declared(matching):
    before = max((row.pk for row in entries()), default=0)
    matching.run()
    calls = list(atlassian_calls(since_id=before))
    assert any(path == "/rest/api/3/users/search" for _, path, _ in calls), calls
    undeclared, extra_fields = undeclared_atlassian(calls)
    assert not undeclared, f"Atlassian requests no endpoint declares: {undeclared}"
    assert not extra_fields, f"Atlassian fields asked for but not declared: {extra_fields}"
    graph = list(graph_calls(since_id=before))
    assert graph, "the run read the Microsoft directory"
    undeclared, extra_fields = undeclared_graph(graph)
    assert not undeclared, f"Graph requests no endpoint declares: {undeclared}"
    assert not extra_fields, f"Graph fields asked for but not declared: {extra_fields}"
