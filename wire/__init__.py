"""The wire: gRPC stubs, chunked streams, proto <-> domain serde, the error -> status table."""
