"""Teams notifications (seed 000): Jira and Confluence events posted by the portal's Teams app
into the channel an admin picked per Jira project and Confluence space."""
