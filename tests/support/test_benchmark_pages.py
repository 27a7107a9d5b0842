"""`benchmark pages`, run tiny: its JSON has every page on both organizations, and a page's
number of queries does not grow with the number of connections and audit events."""

import json
from io import StringIO

from django.core.management import call_command

PAGES = {
    "dashboard", "connection_list", "connection_list_degraded", "connection_list_search", "site_list",
    "site_list_search", "tenant_list", "site_detail", "tenant_detail", "connection_detail", "audit",
    "audit_deep_page", "audit_actor_filter", "support_organization_list", "support_organization_detail",
    "support_connection_detail", "support_audit",
}


def _run(connections, events):
    out = StringIO()
    call_command("benchmark", "pages", connections=connections, audit_events=events, repeat=1, fresh=True,
                 stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


def test_the_pages_benchmark_reports_each_page_and_queries_stay_flat_as_data_grows(db):
    small, larger = _run(9, 120), _run(64, 900)
    assert small["benchmark"] == "pages" and small["connections"] == 9 and small["audit_events"] == 120
    assert set(small["pages"]) == PAGES
    for name, page in larger["pages"].items():
        assert set(page) == {"empty", "big", "ratio"}
        for side in ("empty", "big"):
            assert page[side]["queries"] > 0 and page[side]["median_ms"] > 0 and page[side]["bytes"] > 0
        assert page["ratio"] == round(page["big"]["median_ms"] / page["empty"]["median_ms"], 2)
        # Seven times the connections and events, not one query more.
        assert page["big"]["queries"] == small["pages"][name]["big"]["queries"], name
    assert larger["worst_ratio"] == max(p["ratio"] for p in larger["pages"].values())
