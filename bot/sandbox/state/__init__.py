"""The local Slack workspace's state by concern: people and conversations, messages, views, interactions, faults."""
