"""``talkratio serve``: a parent's dashboard served by the home device itself.

Starlette + uvicorn (the ``[web]`` extra); nothing here is imported by the
runtime, and this ``__init__`` imports nothing so the base install never needs
the extra. The pages read the store through :meth:`edge.store.Store.open_read_only`
and the same statistics functions as ``talkratio stats``.
"""
