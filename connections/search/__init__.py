"""Confluence in Microsoft Search: the portal as a Microsoft Graph connector.

The Confluence side (confluence.py) reads pages and blog posts with their computed permissions as
SourceItems (types.py); the Graph side (graph.py, crawl.py) pushes them into the tenant's index.
"""
