"""The partner node: config, sessions, gRPC service and server start-up."""
