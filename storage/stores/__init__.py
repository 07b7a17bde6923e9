"""Object stores (a local folder, S3): storing verified files, manifests, fixity."""
