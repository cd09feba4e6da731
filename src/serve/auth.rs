//! Authentication of the pushes `serve` accepts: Google-signed Pub/Sub tokens, API keys, Basic
//! credentials and bearer tokens, compared in constant time.
