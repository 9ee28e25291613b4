"""The XCloud gateway: one Analyze call fans out to the model services, cached and merged."""
