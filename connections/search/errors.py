"""What went wrong with Microsoft Search, in words an admin can act on.

Microsoft's connector documents its error codes; the portal meets the same conditions through
Graph's answers and names them by the same codes, so an admin who reads Microsoft's pages finds
the same remedy here.
Reference: https://learn.microsoft.com/microsoftsearch/connector-error-responses
"""

from __future__ import annotations

import dataclasses

from ..microsoft.graph import Forbidden, GraphError, NotConsented


@dataclasses.dataclass(frozen=True)
class Problem:
    code: str
    message: str
    remedy: str
    transient: bool = False


REMEDIES = {
    "1002": "The portal could not sign in to the tenant. Ask a Global Administrator to grant the Microsoft "
            "Search permissions again from the connection page.",
    "1003": "The Confluence account the portal uses cannot see this content. Give it read access to the "
            "spaces in scope, or re-authorize the Confluence site.",
    "1005": "Confluence refused the portal's credentials. Re-authorize the Confluence site from the "
            "connection page.",
    "1008": "The tenant has reached Microsoft Search's item quota. Narrow the filter (fewer spaces, a CQL "
            "clause) or free quota in the Microsoft 365 admin center.",
    "1009": "This connection has reached Microsoft Search's item limit. Narrow the filter.",
    "1010": "The tenant has 100,000 external groups, Microsoft's limit. Remove unused connections, or use "
            "'Everyone' as the search permission.",
    "2004": "Some pages are larger than Microsoft Search's 4 MB item limit. They are indexed with their "
            "text cut, or skipped; split very large pages in Confluence.",
    "2006": "Some Confluence users have no Microsoft account match, so they were left out of who may find "
            "pages. Check the identity type (step 4) or run user matching.",
    "2007": "Nobody who may read some pages has a Microsoft match, so those pages are hidden from search. "
            "Fix user matching for the people listed as unmapped.",
    "2008": "A Confluence group has more than 50,000 members, over Microsoft's limit for an external group.",
    "schema": "Microsoft Search could not register the properties. Change the chosen properties (step 2) "
              "and publish again; if it fails again, contact support with the error above.",
    "conflict": "A Microsoft Search connection with this id exists and was not created by the portal. "
                "Choose another connection id in step 1.",
    "throttled": "Microsoft Search is throttling this connection; the crawl goes on by itself later.",
    "unavailable": "Microsoft Graph is unavailable or busy; the run is retried later by itself.",
}


def problem(code: str, message: str, *, transient: bool = False) -> Problem:
    return Problem(code, message, REMEDIES.get(code, "Retry; if it fails again, contact support."), transient)


def from_graph(exc: GraphError) -> Problem:
    """A Graph failure as a connector problem."""
    if isinstance(exc, NotConsented):
        return Problem("1002", str(exc), exc.remedy)
    if isinstance(exc, Forbidden):
        return Problem("1002", f"Microsoft Graph refused: {exc.message}", exc.remedy)
    if exc.status == 401:
        return problem("1002", f"Microsoft Graph: {exc.message}")
    if exc.status == 429:
        return problem("throttled", f"Microsoft Graph: {exc.message}", transient=True)
    if exc.transient:
        return problem("unavailable", f"Microsoft Graph: {exc.message}", transient=True)
    return Problem(exc.code or str(exc.status), f"Microsoft Graph: HTTP {exc.status} {exc.message}", exc.remedy)
