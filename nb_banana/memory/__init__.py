"""What the kernel keeps: the SQLite store and its blobs, the cache keys, chats, the session.

Handed what it needs (settings, the store) by the context and the turns; never reads them.
"""
