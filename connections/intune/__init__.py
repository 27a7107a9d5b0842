"""Intune app protection for Atlassian's mobile apps (Jira Cloud, Confluence Cloud), per
Atlassian organization: its domains and their tenants, the apps' admin consent per tenant, the
iOS and Android app protection policies, and a checklist of every step, seen or confirmed."""
