"""Block Kit as Slack treats it: the elements of blocks, what people pick in them, and validation."""
