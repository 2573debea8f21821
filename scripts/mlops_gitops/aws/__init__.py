"""The only place that talks to AWS: thin gateways returning typed records (raw boto3 dicts never
leave this package), and the client factory with botocore's adaptive retries."""
