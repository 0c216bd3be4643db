"""The web client at /sandbox: a Slack-like page, the JSON endpoints behind it, and its tools."""
