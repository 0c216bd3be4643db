"""The Web API methods the local workspace answers, by area: auth, chat, users, conversations, views."""
