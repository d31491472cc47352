//! Integration tests: each drives the real `atlas-invite` binary against the built-in
//! simulator, started by the test itself on 127.0.0.1.
