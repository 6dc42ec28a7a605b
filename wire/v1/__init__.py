"""Generated gRPC stubs (gongying.v1)."""
