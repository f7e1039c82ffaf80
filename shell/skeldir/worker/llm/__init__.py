"""The LLM boundary's Python side in the worker: the provider boundary and the llm queue consumer.

Admission, audit, pricing and budgets are SQL (see deploy/function_llm_*.sql); Python only
calls the provider, with a hard timeout, between two SQL calls. The HTTP routes that request
a call are ``skeldir.web.llm_routes``; the operator commands ``skeldir.ops.llm``.
"""
