"""URLs of the simulated Atlassian Cloud, in three lists mounted by sandbox/protocol_urls.py:
auth (auth.atlassian.com), the API gateway (api.atlassian.com) and each site
({name}.atlassian.net). The gateway and site lists route to the same Confluence/Jira views;
the views tell them apart by the `cloud_id` or `site_name` keyword."""

from django.urls import URLPattern, URLResolver, include, path

from . import admin_api, identity_views, jira_views, jsm_views, oauth_views, webhook_views
from . import confluence_search_views as cs
from . import confluence_views as c
from .apps_registry import register_redirect_uri  # noqa: F401  (the tests' and core's entry point)

auth_urlpatterns: list[URLPattern | URLResolver] = [
    path("authorize", oauth_views.authorize, name="atl-authorize"),
    path("signin", oauth_views.signin, name="atl-signin"),
    path("choose-sites", oauth_views.choose_sites, name="atl-choose-sites"),
    path("consent", oauth_views.consent, name="atl-consent"),
    path("oauth/token", oauth_views.token, name="atl-token"),
    path("mobile/admin-consent-done", admin_api.admin_consent_done, name="atl-mobile-consent-done"),
]


def _product_patterns(suffix) -> tuple[list[URLPattern | URLResolver], list[URLPattern | URLResolver]]:
    """Confluence (under wiki/) and Jira (under rest/api/3/) routes; `suffix` keeps names unique."""
    wiki: list[URLPattern | URLResolver] = [
        path("wiki/api/v2/spaces", c.spaces, name=f"atl-spaces{suffix}"),
        path("wiki/api/v2/spaces/<str:space_id>", c.space_detail, name=f"atl-space{suffix}"),
        path("wiki/api/v2/spaces/<str:space_id>/pages", c.space_pages, name=f"atl-space-pages{suffix}"),
        path(
            "wiki/api/v2/spaces/<str:space_id>/permissions", c.space_permissions, name=f"atl-space-permissions{suffix}"
        ),
        path("wiki/api/v2/pages", c.pages, name=f"atl-pages{suffix}"),
        path("wiki/api/v2/pages/<int:page_id>", c.page_detail, name=f"atl-page{suffix}"),
        path("wiki/rest/api/search", c.search, name=f"atl-cql-search{suffix}"),
        path("wiki/api/v2/blogposts", cs.blogposts, name=f"atl-blogposts{suffix}"),
        path("wiki/api/v2/blogposts/<int:blogpost_id>", cs.blogpost_detail, name=f"atl-blogpost{suffix}"),
        path("wiki/api/v2/spaces/<str:space_id>/blogposts", cs.space_blogposts, name=f"atl-space-blogposts{suffix}"),
        path("wiki/api/v2/pages/<int:page_id>/ancestors", cs.page_ancestors, name=f"atl-page-ancestors{suffix}"),
        path("wiki/api/v2/users-bulk", cs.users_bulk, name=f"atl-users-bulk{suffix}"),
        path("wiki/rest/api/space/<str:space_key>", cs.space_v1, name=f"atl-space-v1{suffix}"),
        path("wiki/rest/api/group", cs.groups, name=f"atl-groups{suffix}"),
        path(
            "wiki/rest/api/group/<str:group_id>/membersByGroupId", cs.group_members, name=f"atl-group-members{suffix}"
        ),
        path("wiki/rest/api/search/user", cs.search_user, name=f"atl-search-user{suffix}"),
        path(
            "wiki/rest/api/content/<int:content_id>/restriction/byOperation/<str:operation>",
            c.restrictions_for_operation,
            name=f"atl-restrictions-op{suffix}",
        ),
        path(
            "wiki/rest/api/content/<int:content_id>/restriction/byOperation",
            c.restrictions_by_operation,
            name=f"atl-restrictions{suffix}",
        ),
    ]
    jira: list[URLPattern | URLResolver] = [
        path("rest/api/3/user/search", jira_views.user_search, name=f"atl-user-search{suffix}"),
        path("rest/api/3/users/search", jira_views.users_search, name=f"atl-users-search{suffix}"),
        path("rest/api/3/project/search", jira_views.project_search, name=f"atl-project-search{suffix}"),
        path("rest/api/3/myself", jira_views.myself, name=f"atl-myself{suffix}"),
        path("rest/servicedeskapi/info", jira_views.service_management_info, name=f"atl-jsm-info{suffix}"),
        # Incidents: the enhanced search (the old one answers 410), watchers, participants, comments.
        path("rest/api/3/search", jsm_views.search_removed, name=f"atl-search-removed{suffix}"),
        path("rest/api/3/search/jql", jsm_views.search_jql, name=f"atl-search-jql{suffix}"),
        path("rest/api/3/issue/<str:issue_key>/watchers", jsm_views.issue_watchers, name=f"atl-watchers{suffix}"),
        path(
            "rest/servicedeskapi/request/<str:issue_key>/participant",
            jsm_views.request_participants,
            name=f"atl-jsm-participants{suffix}",
        ),
        path(
            "rest/servicedeskapi/request/<str:issue_key>/comment",
            jsm_views.request_comment,
            name=f"atl-jsm-comment{suffix}",
        ),
        path("rest/api/3/webhook", webhook_views.webhooks, name=f"atl-webhooks{suffix}"),
        path("rest/api/3/webhook/refresh", webhook_views.refresh, name=f"atl-webhooks-refresh{suffix}"),
    ]
    return wiki, jira


_gw_wiki, _gw_jira = _product_patterns("")
api_urlpatterns: list[URLPattern | URLResolver] = [
    path("oauth/token/accessible-resources", identity_views.accessible_resources, name="atl-accessible-resources"),
    path("me", identity_views.me, name="atl-me"),
    path("ex/confluence/<str:cloud_id>/", include(_gw_wiki)),
    path("ex/jira/<str:cloud_id>/", include(_gw_jira)),
    # Atlassian Administration: organizations and their domains (organization API keys).
    path("admin/v1/orgs", admin_api.orgs, name="atl-admin-orgs"),
    path("admin/v1/orgs/<str:org_id>/domains", admin_api.domains, name="atl-admin-domains"),
]

_site_wiki, _site_jira = _product_patterns("-site")
site_urlpatterns: list[URLPattern | URLResolver] = [
    path("_edge/tenant_info", identity_views.tenant_info, name="atl-tenant-info"),
    *_site_wiki,
    *_site_jira,
]

# Mounted at the sandbox origin's root (protocol_urls sees the prefixes and includes us there).
urlpatterns = [
    path("atlassian-auth/", include(auth_urlpatterns)),
    path("atlassian-api/", include(api_urlpatterns)),
    path("sites/<str:site_name>/", include(site_urlpatterns)),
]
