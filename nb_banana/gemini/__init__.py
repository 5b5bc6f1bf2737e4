"""The only door to Google: the model table, the request, the SDK's types and its loop."""
