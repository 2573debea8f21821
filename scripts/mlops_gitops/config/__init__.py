"""Reading and checking mlops-config.json and environments.json. Never imports boto3."""
