"""Atlassian Administration (admin.atlassian.com) with an organization API key: the
organization's claimed domains. Apart from connections.atlassian, whose clients act for a site
through its OAuth grant or API token: this key belongs to an Atlassian organization."""
