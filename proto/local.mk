## proto/: wire schema and framing.
