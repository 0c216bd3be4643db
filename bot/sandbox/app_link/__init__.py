"""How the workspace reaches the app: the requests Slack sends, their signatures, and their delivery."""
