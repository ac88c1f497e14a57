"""Client adapters for payment APIs other than the mock gateway's (see
locustfiles/client/adapter.py); a scenario names one as `client: {adapter: module:Name}`."""
