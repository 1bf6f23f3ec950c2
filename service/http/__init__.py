"""The HTTP surface: routes, request parsing, answers and the OpenAPI document."""
