"""What both backends share: the connection interface, the store's transactions and the repositories' SQL."""
