"""The querier's client: the SDK, its client profile, and analyses of released answers."""
