"""Incident chats and meetings for Jira Service Management (seed 004).

For a service project whose Teams switch is on, the portal lists the open incidents and, per
incident, creates a Teams group chat with the responders (the portal's Teams app installed in
it, late responders added later) and a Teams meeting whose join link lands on the incident as an
internal note. From the incident page the portal acts as the admin whose Microsoft sign-in the
connection stores; an automation rule calls the portal's API with an organization API key, and
the chat is then made by the portal's app (application permissions), so no person is added to
every chat.

selectors: reads (incidents, responders and their Microsoft users). services: the writes, each
with its audit event. apikeys: the organization's API keys. views / api: thin pages and the API.
"""
