"""Runtime of a party: config, TLS, identity, serving, signing, certs, executor, storage, audit."""
