"""Generated gRPC stubs for gongying.v1."""
