"""Text for text-conditioned models: prompt encoders (``encoders.py``), registered by name.

A layer of its own beside ``nn``: it imports only ``registry``, ``errors`` and ``utils``, so datasets
(which embed their captions) and task handles (which embed prompts) both use it.
"""
