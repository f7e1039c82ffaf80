"""The LLM boundary's Python side: the provider boundary, the llm queue consumer, HTTP routes.

Admission, audit, pricing and budgets are SQL (see deploy/function_llm_*.sql); Python only
calls the provider, with a hard timeout, between two SQL calls.
"""
